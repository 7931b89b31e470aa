"""Fixtures of the public API tests: a small trained shipment model and the shipped models.

The small model (40,000 generated shipments, seed 31, 80 boosting rounds, 2 threads) is trained once per
session; its held-out test window (the latest records) supplies realistic records to score. Tests must
treat the fixtures as read-only: copy frames before changing them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore.model import RiskModel
from riskscore.training import TrainResult
from riskscore.validation import validate_frame


@pytest.fixture(scope="session")
def small_result(world) -> TrainResult:
    """The shared world's shipment model and its held-out test window (tests/conftest.py; read-only)."""
    return world.shipment_result


@pytest.fixture(scope="session")
def small_model(small_result: TrainResult) -> RiskModel:
    return small_result.model


@pytest.fixture(scope="session")
def test_window(small_result: TrainResult) -> pd.DataFrame:
    """The small model's test window, declared columns only, validated (canonical dtypes), 0..n-1 index."""
    spec = riskscore.load_spec("shipment")
    frame = small_result.test.reset_index(drop=True)[spec.declared_columns]
    return validate_frame(frame, spec)


# ------------------------------------------------------------------------------------------- helpers


def plain_value(value: Any) -> Any:
    """A plain Python value, the way a caller without pandas holds it (NaN/NaT -> None)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def plain_records(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows of `frame` as dicts of plain Python values (str, int, float, bool, datetime, None)."""
    cols = list(frame.columns if columns is None else columns)
    out = []
    for row in frame[cols].astype(object).itertuples(index=False, name=None):
        out.append({c: plain_value(v) for c, v in zip(cols, row, strict=True)})
    for record in out:
        for v in record.values():
            assert v is None or type(v) in (str, int, float, bool, dt.datetime), type(v)
    return out


def row_dict(pred: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row `i` of a prediction frame as a dict comparable with ``predict_one``'s result."""
    row = pred.iloc[i]
    return {
        c: (str(row[c]) if c in ("record_id", "channel", "selection_reason", "model_version") else row[c])
        for c in pred.columns
    }
