"""Metrics the way customs evaluates selection: hit rate, detection and revenue at a fixed inspection rate.

DOMAIN.md 5: precision@n% (hit rate) and recall@n% (detection rate) at inspection rates 1, 2, 5, 10, 20%,
and revenue@n% (share of the duty at stake found in the top n%).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from riskscore.exceptions import ParameterError

__all__ = ["INSPECTION_RATES", "at_rate", "selection_table", "top_mask"]

INSPECTION_RATES = (0.01, 0.02, 0.05, 0.10, 0.20)


def top_mask(score: ArrayLike, rate: float) -> np.ndarray:
    """Boolean mask of the ``ceil(rate * n)`` highest scores (ties broken by position, stable)."""
    s = np.asarray(score, dtype=np.float64)
    if not 0 < rate <= 1:
        raise ParameterError(f"inspection rate must be in (0, 1]; got {rate!r}")
    if np.isnan(s).any():
        raise ParameterError("scores contain NaN; score every record before ranking")
    k = int(np.ceil(rate * len(s)))
    mask = np.zeros(len(s), dtype=bool)
    if k:
        mask[np.argsort(-s, kind="stable")[:k]] = True
    return mask


def at_rate(y: ArrayLike, score: ArrayLike, rate: float, *, revenue: ArrayLike | None = None) -> dict[str, float]:
    """Precision, recall, revenue share and uplift over random when inspecting the top ``rate`` by score.

    Examples
    --------
    >>> at_rate([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], 0.5)["precision"]
    0.5
    """
    yy = np.asarray(y, dtype=bool)
    mask = top_mask(score, rate)
    hits = float(yy[mask].sum())
    prevalence = float(yy.mean()) if len(yy) else float("nan")
    out = {
        "rate": float(rate),
        "inspected": float(mask.sum()),
        "precision": hits / max(float(mask.sum()), 1.0),
        "recall": hits / float(yy.sum()) if yy.any() else float("nan"),
    }
    out["uplift"] = out["precision"] / prevalence if prevalence > 0 else float("nan")
    if revenue is not None:
        r = np.asarray(revenue, dtype=np.float64)
        out["revenue"] = float(r[mask].sum() / r.sum()) if r.sum() > 0 else float("nan")
    return out


def selection_table(
    y: ArrayLike,
    scores: dict[str, ArrayLike],
    *,
    rates: Sequence[float] = INSPECTION_RATES,
    revenue: ArrayLike | None = None,
) -> pd.DataFrame:
    """One row per (scorer, inspection rate): precision, recall, uplift and revenue share."""
    rows = []
    for name, score in scores.items():
        for rate in rates:
            rows.append({"scorer": name, **at_rate(y, score, rate, revenue=revenue)})
    return pd.DataFrame(rows)
