"""Pieces both generators share: seeding, blocks, calendars, reference tables, identifiers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore.synthetic.scenario import data_dir

# Records are generated in fixed blocks, each from its own random stream keyed by (seed, kind, block);
# any chunking of the output is a re-slicing of the same blocks, so chunked == one-shot by construction.
BLOCK_ROWS = 1 << 16

# Lunar New Year (Tet) dates: docs/domain.md 1.5 (border clearance halts ~7 days) and 4.4 (pre-Tet peaks).
TET_DATES = {
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
    2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11),
}


def generator_threads() -> int:
    """Threads used to generate blocks: RISKSCORE_THREADS if set, else the usable cores (at most 4)."""
    import os

    env = os.environ.get("RISKSCORE_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"RISKSCORE_THREADS must be a whole number >= 1; got {env!r}") from None
    return max(
        1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    )


def population_rng(seed: int, kind: int) -> np.random.Generator:
    """Random stream for the population (importers, travellers): independent of how rows are chunked."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), kind, 0]))


def block_rng(seed: int, kind: int, block: int) -> np.random.Generator:
    """Random stream for one block of records."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), kind, 1, block]))


def block_ranges(n: int) -> Iterator[tuple[int, int, int]]:
    """Yield (block index, first row, end row) covering rows 0..n-1."""
    for b, lo in enumerate(range(0, n, BLOCK_ROWS)):
        yield b, lo, min(n, lo + BLOCK_ROWS)


def day_offsets(
    start: dt.date, days: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Calendar helpers for the period: day-of-week (Mon=0), days to the nearest Tet, month index."""
    dates = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    dow = dates.day_of_week.to_numpy().astype(np.int64)
    tet = np.full(days, 9999.0)
    for year in range(dates[0].year - 1, dates[-1].year + 2):
        if year in TET_DATES:
            delta = (dates - pd.Timestamp(TET_DATES[year])).days.to_numpy().astype(np.float64)
            tet = np.where(np.abs(delta) < np.abs(tet), delta, tet)
    month = ((dates.year - dates[0].year) * 12 + dates.month - dates[0].month).to_numpy().astype(np.int64)
    return dow, tet, month


def month_of_year(start: dt.date, days: int) -> NDArray[np.int64]:
    """Calendar month (1-12) of each day of the period."""
    return pd.date_range(pd.Timestamp(start), periods=days, freq="D").month.to_numpy().astype(np.int64)


def day_counts(rng: np.random.Generator, n: int, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Split n records over days in proportion to weights; returns the cumulative end row of each day."""
    counts = rng.multinomial(n, weights / weights.sum())
    return np.cumsum(counts).astype(np.int64)


def days_of_rows(cum_counts: NDArray[np.int64], lo: int, hi: int) -> NDArray[np.int64]:
    """Day index of rows lo..hi-1 (records are ordered by day)."""
    return np.searchsorted(cum_counts, np.arange(lo, hi), side="right").astype(np.int64)


def timestamps(
    start: dt.date, day: NDArray[np.int64], seconds: NDArray[np.float64]
) -> NDArray[np.datetime64]:
    """Timestamps at whole seconds: start + day + seconds into the day."""
    base = pd.Timestamp(start).to_datetime64().astype("datetime64[s]")
    secs = day * 86400 + np.floor(seconds).astype(np.int64)
    return (base + secs.astype("timedelta64[s]")).astype("datetime64[ns]")


def format_ids(prefix: str, seed: int, lo: int, hi: int) -> pd.Series:
    """Format identifiers like D0007-000000123: unique within a data set, distinct across seeds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tag = pa.scalar(f"{prefix}{int(seed) % 10000:04d}-")
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(lo, hi, dtype=np.int64)), pa.string()), 9, "0")
    return pd.Series(pd.array(pc.binary_join_element_wise(tag, digits, ""), dtype="str"))


@lru_cache(maxsize=8)
def read_table(name: str) -> pd.DataFrame:
    """Read a reference table (CSV) from the scenario data folder."""
    # Codes keep their leading zeros (HS 0805, office 02CI): read every code column as text.
    codes = {"hs4": "str", "code": "str", "iso2": "str", "foreign_country": "str", "border_point": "str"}
    return pd.read_csv(
        data_dir() / name, keep_default_na=False, na_values=[""], dtype=codes, dtype_backend="numpy_nullable"
    )


def categorical_codes(
    codes: NDArray[np.intp], categories: list[str] | NDArray[np.str_] | pd.Index
) -> pd.Categorical:
    """Build a pandas Categorical from integer codes (-1 = missing) without materialising strings per row.

    Pass a prebuilt ``pd.Index`` for large category lists (importers, travellers): building it is the cost.
    """
    index = categories if isinstance(categories, pd.Index) else pd.Index(list(categories), dtype="str")
    return pd.Categorical.from_codes(codes, categories=index)


def weekday_weights(kind: str) -> NDArray[np.float64]:
    """Day-of-week volume profile. docs/domain.md 2.1: KCS Mon 29%, Tue-Fri 16-19%, Sat 3%, Sun 2%."""
    if kind == "land_gate":  # border gates work every day
        return np.array([16, 15, 15, 15, 15, 13, 11], dtype=np.float64)
    if kind == "passenger":
        return np.array([14, 13, 13, 14, 16, 16, 14], dtype=np.float64)
    return np.array([29, 18, 17, 16, 17, 3, 2], dtype=np.float64)
