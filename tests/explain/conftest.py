"""One trained world for the explanation and report tests: a shipment and a passenger model.

60,000 shipments and 40,000 passengers (seed 21), each with a model trained the way ``riskscore train``
does it but with 150 boosting rounds (about ten seconds on two cores for both). Built once per session;
tests must treat everything in it as read-only (copy a frame before changing it, ``copy.copy`` a model
before replacing its policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.model import ChannelModel, RiskModel
from riskscore.spec import validate_frame
from riskscore.synthetic import generate_passengers, generate_shipments
from riskscore.train import TrainResult, train

SHIPMENT_ROWS = 60_000
PASSENGER_ROWS = 40_000
SEED = 21

#: Markup an attacker could put in a free-text field of a declaration.
SCRIPT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = '"><img src=x onerror=alert(2)>'


@dataclass(frozen=True)
class Trained:
    """The two trained models and their held-out latest windows (read-only)."""

    shipment_result: TrainResult
    passenger_result: TrainResult

    @property
    def shipment_model(self) -> RiskModel:
        return self.shipment_result.model

    @property
    def passenger_model(self) -> RiskModel:
        return self.passenger_result.model


@pytest.fixture(scope="session")
def trained() -> Trained:
    """Shipment model on 60,000 shipments, passenger model on 40,000 passengers (seed 21)."""
    shipments = generate_shipments(SHIPMENT_ROWS, seed=SEED)
    shipment_result = train(
        shipments, kind="shipment", num_threads=2, estimator=ChannelModel(n_estimators=150)
    )
    passengers = generate_passengers(PASSENGER_ROWS, seed=SEED)
    passenger_result = train(
        passengers, kind="passenger", num_threads=2, estimator=ChannelModel(n_estimators=150)
    )
    return Trained(shipment_result, passenger_result)


@pytest.fixture(scope="session")
def shipment_model(trained: Trained) -> RiskModel:
    return trained.shipment_model


@pytest.fixture(scope="session")
def passenger_model(trained: Trained) -> RiskModel:
    return trained.passenger_model


@pytest.fixture(scope="session")
def shipment_test(trained: Trained) -> pd.DataFrame:
    """The shipment test window (about 9,000 records, truth columns kept), validated; read-only."""
    return validate_frame(trained.shipment_result.test.reset_index(drop=True), "shipment")


@pytest.fixture(scope="session")
def passenger_test(trained: Trained) -> pd.DataFrame:
    """The passenger test window, validated; read-only."""
    return validate_frame(trained.passenger_result.test.reset_index(drop=True), "passenger")


@pytest.fixture(scope="session")
def shipment_model_file(shipment_model: RiskModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipment model saved to a model file (for the command line)."""
    return shipment_model.save(tmp_path_factory.mktemp("model") / "shipment.rsk")


def flagged_by_risk(model: RiskModel, frame: pd.DataFrame) -> np.ndarray:
    """Positions of the records the model sends to yellow or red, riskiest first (the report's order)."""
    pred = model.predict(frame)
    flagged = np.flatnonzero(pred["channel"].isin(["yellow", "red"]).to_numpy())
    return flagged[np.argsort(-pred["risk_score"].to_numpy()[flagged], kind="stable")]


@pytest.fixture(scope="session")
def with_payloads() -> Callable[[RiskModel, pd.DataFrame, int], tuple[pd.DataFrame, np.ndarray]]:
    """A function planting HTML payloads in the goods description of the riskiest flagged records.

    ``with_payloads(model, frame, n)`` returns a copy of ``frame`` in which the ``n`` riskiest flagged
    records carry SCRIPT_PAYLOAD and the next ``n`` IMG_PAYLOAD, and the positions of those ``2 n``
    records (the goods description is not a model input, so they stay flagged and riskiest).
    """

    def plant(model: RiskModel, frame: pd.DataFrame, n: int) -> tuple[pd.DataFrame, np.ndarray]:
        frame = frame.reset_index(drop=True).copy()
        rows = flagged_by_risk(model, frame)[: 2 * n]
        assert len(rows) == 2 * n, f"only {len(rows)} flagged records to plant payloads in"
        text = frame["goods_description"].astype(object)
        text.iloc[rows[:n]] = SCRIPT_PAYLOAD
        text.iloc[rows[n:]] = IMG_PAYLOAD
        frame["goods_description"] = text
        return frame, rows

    return plant
