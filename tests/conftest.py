"""Shared fixtures: one large synthetic data set of each kind, generated once per test session.

The statistical tests (prevalence, mechanism mix, mechanism signatures, oracle calibration) all read the
same 200,000 shipments and 200,000 passengers. Generating them takes a few seconds, so they are built once;
tests must treat them as read-only (use ``.copy()`` or ``.assign`` before adding columns).
"""

from __future__ import annotations

import pandas as pd
import pytest

import riskscore
from riskscore.model import RiskModel
from riskscore.synthetic import generate_passengers, generate_shipments

SESSION_ROWS = 200_000
SESSION_SEED = 11


@pytest.fixture(scope="session")
def shipments_200k() -> pd.DataFrame:
    """200,000 shipments of the default scenario, seed 11 (read-only)."""
    return generate_shipments(SESSION_ROWS, seed=SESSION_SEED)


@pytest.fixture(scope="session")
def passengers_200k() -> pd.DataFrame:
    """200,000 passenger trips of the default scenario, seed 11 (read-only)."""
    return generate_passengers(SESSION_ROWS, seed=SESSION_SEED)


@pytest.fixture(scope="session")
def shipped_model() -> RiskModel:
    """The shipped shipment model (models/shipment.rsk), read-only: copy it before changing anything."""
    return riskscore.load("shipment")


@pytest.fixture(scope="session")
def shipped_passenger_model() -> RiskModel:
    """The shipped passenger model (models/passenger.rsk), read-only."""
    return riskscore.load("passenger")
