"""Shared fixtures: one large synthetic data set of each kind, generated once per test session.

The statistical tests (prevalence, mechanism mix, mechanism signatures, oracle calibration) all read the
same 200,000 shipments and 200,000 passengers. Generating them takes a few seconds, so they are built once;
tests must treat them as read-only (use ``.copy()`` or ``.assign`` before adding columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

import riskscore
from riskscore.model import ChannelModel, RiskModel
from riskscore.synthetic import generate_passengers, generate_shipments
from riskscore.training import TrainResult, train
from riskscore.validation import validate_frame

SESSION_ROWS = 200_000
SESSION_SEED = 11

WORLD_SHIPMENTS = 60_000
WORLD_PASSENGERS = 40_000
WORLD_SEED = 3


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


@dataclass(frozen=True)
class World:
    """The one trained world every suite shares: generated records and a model of each kind (read-only).

    Tests must treat everything in it as read-only: copy a frame before changing it, ``copy.copy`` a model
    before replacing its policy, and rebuild a model's parts before refitting them.
    """

    shipments: pd.DataFrame
    shipment_result: TrainResult
    passengers: pd.DataFrame
    passenger_result: TrainResult

    @property
    def shipment_model(self) -> RiskModel:
        return self.shipment_result.model

    @property
    def passenger_model(self) -> RiskModel:
        return self.passenger_result.model

    def shipment_test(self) -> pd.DataFrame:
        """The shipment test window, validated against the spec (a fresh copy)."""
        return validate_frame(self.shipment_result.test.reset_index(drop=True), "shipment")


@pytest.fixture(scope="session")
def world() -> World:
    """60,000 shipments and 40,000 passengers (seed 3), each with a model of 150 rounds trained on them."""
    shipments = generate_shipments(WORLD_SHIPMENTS, seed=WORLD_SEED)
    shipment_result = train(
        shipments, kind="shipment", num_threads=2, estimator=ChannelModel(n_estimators=150)
    )
    passengers = generate_passengers(WORLD_PASSENGERS, seed=WORLD_SEED)
    passenger_result = train(
        passengers, kind="passenger", num_threads=2, estimator=ChannelModel(n_estimators=150)
    )
    return World(shipments, shipment_result, passengers, passenger_result)
