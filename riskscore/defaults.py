"""The shipped default models: the data they are trained on and the fresh batch the demo scores.

Importer and traveller ids only mean the same thing within one generated world, so history and fresh
batch come from one data set: 13 months of the default scenario; the model learns from the first twelve
and the demo scores the thirteenth. ``riskscore build-models`` rebuilds the models from this definition,
byte for byte the same data every time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

__all__ = ["DEFAULT_DATA", "DefaultData", "default_frames"]


@dataclass(frozen=True)
class DefaultData:
    """One default data set: generator arguments and the cut between history and the fresh batch."""

    generator: str  # "shipments" or "passengers"
    rows: int
    seed: int
    start: dt.date
    days: int
    cutoff: dt.date  # records from this day on form the fresh batch


DEFAULT_DATA = {
    "shipment": DefaultData("shipments", 650_000, 2025, dt.date(2025, 1, 1), 396, dt.date(2026, 1, 1)),
    "passenger": DefaultData("passengers", 500_000, 2025, dt.date(2025, 1, 1), 396, dt.date(2026, 1, 1)),
}


def default_frames(kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, fresh batch) of the default data set of ``kind`` ("shipment" or "passenger")."""
    from riskscore.synthetic import generate

    d = DEFAULT_DATA[kind]
    frame = generate(d.generator, d.rows, seed=d.seed, start=d.start, days=d.days)  # type: ignore[arg-type]
    time_col = "declared_at" if kind == "shipment" else "crossed_at"
    fresh = frame[time_col] >= pd.Timestamp(d.cutoff)
    return frame[~fresh].reset_index(drop=True), frame[fresh].reset_index(drop=True)
