"""One trained world for the model tests: 60,000 shipments and 30,000 passengers with a model each.

Generating and training both takes a few seconds on two idle cores, so it is done once per session and
shared. Tests must treat everything in it as read-only: copy a frame before changing it, and clone or
rebuild a model's parts (``ChannelPolicy.from_dict(model.policy.to_dict())``...) before refitting them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from riskscore.model import ChannelModel, RiskModel
from riskscore.spec import validate_frame
from riskscore.synthetic import generate_passengers, generate_shipments
from riskscore.train import TrainResult, train

SHIPMENT_ROWS = 60_000
PASSENGER_ROWS = 30_000
SEED = 3


@dataclass(frozen=True)
class World:
    """Generated records and the models trained on them (read-only)."""

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
    """60,000 shipments and 30,000 passengers (seed 3), each with a model trained on them."""
    shipments = generate_shipments(SHIPMENT_ROWS, seed=SEED)
    shipment_result = train(
        shipments, kind="shipment", num_threads=2, estimator=ChannelModel(n_estimators=150)
    )
    passengers = generate_passengers(PASSENGER_ROWS, seed=SEED)
    passenger_result = train(
        passengers, kind="passenger", num_threads=2, estimator=ChannelModel(n_estimators=150)
    )
    return World(shipments, shipment_result, passengers, passenger_result)
