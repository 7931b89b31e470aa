"""The model tests use the shared trained world of tests/conftest.py (fixture ``world``)."""
