"""Helpers every feature kind uses: array encoding for the model file, days, numbers, sorted lookups."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["EPS", "U64", "Float", "days", "decode", "encode", "lookup_sorted", "numeric"]

EPS = 1e-9  # keeps log ratios finite when a value is 0
Float = NDArray[np.float64]
U64 = NDArray[np.uint64]


def encode(a: np.ndarray) -> dict[str, Any]:
    """Return an array as JSON: dtype, shape and base64 bytes (never pickle)."""
    a = np.ascontiguousarray(a)
    return {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def decode(d: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode`."""
    raw = base64.b64decode(d["data"].encode("ascii"), validate=True)
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def days(series: pd.Series) -> NDArray[np.int64]:
    """Return whole days since 1970-01-01 of a time column."""
    values = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
    return values.astype("datetime64[D]").astype(np.int64)


def numeric(series: pd.Series) -> Float:
    """Return a column as float64 (flags as 0/1, missing as NaN)."""
    if series.dtype == bool or isinstance(series.dtype, pd.BooleanDtype):
        return np.asarray(
            series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64
        )
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def lookup_sorted(keys: U64, query: U64) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Return the positions of ``query`` in the sorted ``keys`` and whether each was found."""
    idx = np.searchsorted(keys, query).clip(0, max(len(keys) - 1, 0))
    found = (keys[idx] == query) if len(keys) else np.zeros(len(query), dtype=bool)
    return idx.astype(np.intp), found
