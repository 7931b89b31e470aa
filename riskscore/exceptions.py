"""The riskscore exception family.

Every error riskscore raises on purpose is a :class:`RiskscoreError` and also subclasses the builtin a
caller would already catch, so ``except ValueError`` keeps working for code that does not know riskscore.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "OutputError",
    "ParameterError",
    "RiskscoreError",
    "ScenarioError",
    "SchemaError",
    "SpecError",
]


class RiskscoreError(Exception):
    """Base class of every error riskscore raises on purpose."""


class SchemaError(RiskscoreError, ValueError):
    """Records do not match their spec: a missing column, a wrong type or an impossible value."""


class SpecError(RiskscoreError, ValueError):
    """A record spec (TOML) is malformed or names something that does not exist."""


class ScenarioError(RiskscoreError, ValueError):
    """A synthetic-data scenario is unknown or holds an invalid value."""


class ArtifactError(RiskscoreError, OSError):
    """A model file is missing, unreadable, tampered with or of an unsupported format version."""


class ParameterError(RiskscoreError, ValueError):
    """A function or command argument is out of range (e.g. a row count <= 0)."""


class OutputError(RiskscoreError, OSError):
    """An output path cannot be written; nothing was left half-written."""
