"""The shipped default models: the data they are trained on and the fresh batch the demo scores.

Importer and traveller ids only mean the same thing within one generated world, so history and fresh
batch come from one data set: 13 months of the default scenario; the model learns from the first twelve
and the demo scores the thirteenth. ``riskscore build-models`` rebuilds the models from this definition,
byte for byte the same data every time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_DATA", "DefaultData", "default_frames", "default_fresh"]


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


_TIME_COLUMN = {"shipment": "declared_at", "passenger": "crossed_at"}


def default_frames(kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, fresh batch) of the default data set of ``kind`` ("shipment" or "passenger")."""
    from riskscore.synthetic import generate

    d = DEFAULT_DATA[kind]
    frame = generate(d.generator, d.rows, seed=d.seed, start=d.start, days=d.days)  # type: ignore[arg-type]
    fresh = frame[_TIME_COLUMN[kind]] >= pd.Timestamp(d.cutoff)
    return frame[~fresh].reset_index(drop=True), frame[fresh].reset_index(drop=True)


def default_fresh(kind: str, rows: int | None = None) -> tuple[pd.DataFrame, int]:
    """Return the fresh batch of the default data set of ``kind`` and the number of records before it.

    The batch is row for row the one of :func:`default_frames`, at a tenth of the work: the generator
    draws records in fixed blocks, in time order, each block from its own random stream, so the blocks
    that hold the last month can be drawn alone (the world itself, importers and travellers with their
    traits, is built in full: the shipped models' stored history refers to its ids).

    Parameters
    ----------
    kind
        ``"shipment"`` or ``"passenger"``.
    rows
        Keep a reproducible random sample of this many records of the batch, in time order (the whole
        batch when it holds no more). None: the whole batch.

    Returns
    -------
    tuple of (DataFrame, int)
        The fresh records, and how many records of the data set precede the cutoff.
    """
    d = DEFAULT_DATA[kind]
    fresh, before = _records_from(d.generator, d.rows, d.seed, d.start, d.days, d.cutoff, _TIME_COLUMN[kind])
    if rows is not None and rows < len(fresh):
        keep = np.sort(np.random.default_rng(d.seed).choice(len(fresh), size=rows, replace=False))
        fresh = fresh.iloc[keep].reset_index(drop=True)
    return fresh, before


def _records_from(
    generator: str, rows: int, seed: int, start: dt.date, days: int, cutoff: dt.date, time_column: str
) -> tuple[pd.DataFrame, int]:
    """Draw only the records of a generated data set from ``cutoff`` on; also count those before it.

    Equal to filtering :func:`riskscore.synthetic.generate` with the same arguments (default scenario).
    """
    from riskscore.synthetic import _common
    from riskscore.synthetic.generate import _concat, _kind
    from riskscore.synthetic.scenario import load_scenario

    build, block = _kind(generator)
    world = build(load_scenario("default"), rows, seed, start, days)
    when = pd.Timestamp(cutoff)
    parts = []
    for b, lo, hi in reversed(list(_common.block_ranges(rows))):
        parts.append(block(world, b, lo, hi))
        if (parts[-1][time_column] < when).any():  # records come in time order: every earlier block is before
            break
    tail = _concat(parts[::-1])
    later = (tail[time_column] >= when).to_numpy()
    return tail[later].reset_index(drop=True), rows - int(later.sum())
