"""Fixtures of the monitoring tests: a small shipment model with a held-out half of its world, a passenger model.

Both are trained once per session on one thread. The shipment model sees a random half of 40,000 generated
shipments; the other half (same importers, same days) is the batch "drawn like the training data". Tests
must treat the fixtures as read-only: copy frames before changing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskscore.model import ChannelModel, RiskModel
from riskscore.synthetic import generate_passengers, generate_shipments
from riskscore.training import train

SEED = 41
SHIPMENTS = 40_000
PASSENGERS = 30_000


@dataclass(frozen=True)
class HeldOut:
    """A model trained on half of a generated world and the other half, by the model's time windows."""

    model: RiskModel
    held_out: pd.DataFrame  # the records the model never saw, every day of the period

    def window(self, name: str) -> pd.DataFrame:
        """The held-out records on the days of the model's ``training`` or ``validation`` window."""
        start, end = (pd.Timestamp(t).floor("D") for t in self.model.monitoring[name]["period"])
        day = pd.to_datetime(self.held_out[self.model.spec.time_column]).dt.floor("D")
        return self.held_out[(day >= start) & (day <= end)].reset_index(drop=True)


@pytest.fixture(scope="session")
def shipments() -> HeldOut:
    """A shipment model trained on a random half of 40,000 shipments (seed 41), and the other half."""
    full = generate_shipments(SHIPMENTS, seed=SEED)
    held = np.random.default_rng(SEED).random(len(full)) < 0.5
    result = train(
        full[~held], kind="shipment", num_threads=1, estimator=ChannelModel(n_estimators=60), progress=False
    )
    return HeldOut(result.model, full[held].reset_index(drop=True))


@pytest.fixture(scope="session")
def shipment_model(shipments: HeldOut) -> RiskModel:
    return shipments.model


@pytest.fixture(scope="session")
def passenger_model() -> RiskModel:
    """A passenger model trained on 30,000 trips of the default scenario (no biased rule), seed 41."""
    trips = generate_passengers(PASSENGERS, seed=SEED)
    return train(
        trips, kind="passenger", num_threads=1, estimator=ChannelModel(n_estimators=40), progress=False
    ).model


@pytest.fixture(scope="session")
def shipment_model_file(shipment_model: RiskModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shipment_model.save(tmp_path_factory.mktemp("monitor_model") / "shipment.rsk")
