"""Fixtures of the explanation and report tests, on the shared trained world (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.model import RiskModel
from riskscore.validation import validate_frame

from ..conftest import WORLD_SEED, World

SEED = WORLD_SEED  # the shared world's seed: records generated with it share its importers and travellers

#: Markup an attacker could put in a free-text field of a declaration.
SCRIPT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = '"><img src=x onerror=alert(2)>'


@pytest.fixture(scope="session")
def trained(world: World) -> World:
    """The shared trained world (tests/conftest.py): a shipment and a passenger model, read-only."""
    return world


@pytest.fixture(scope="session")
def shipment_model(trained: World) -> RiskModel:
    return trained.shipment_model


@pytest.fixture(scope="session")
def passenger_model(trained: World) -> RiskModel:
    return trained.passenger_model


@pytest.fixture(scope="session")
def shipment_test(trained: World) -> pd.DataFrame:
    """The shipment test window (about 9,000 records, truth columns kept), validated; read-only."""
    return validate_frame(trained.shipment_result.test.reset_index(drop=True), "shipment")


@pytest.fixture(scope="session")
def passenger_test(trained: World) -> pd.DataFrame:
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
