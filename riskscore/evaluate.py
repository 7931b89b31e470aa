"""Metrics the way customs evaluates selection: hit rate, detection and revenue at a fixed inspection rate.

DOMAIN.md 5: precision@n% (hit rate) and recall@n% (detection rate) at inspection rates 1, 2, 5, 10, 20%,
and revenue@n% (share of the duty at stake found in the top n%).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from riskscore.exceptions import ParameterError

__all__ = ["INSPECTION_RATES", "at_rate", "evaluate_scores", "selection_table", "top_mask"]

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


def at_rate(
    y: ArrayLike, score: ArrayLike, rate: float, *, revenue: ArrayLike | None = None
) -> dict[str, float]:
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
    scores: Mapping[str, ArrayLike],
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


def _ipw_at(score: np.ndarray, inspected: np.ndarray, hit: np.ndarray, w: np.ndarray, rate: float) -> float:
    """Hit rate in the top ``rate`` estimated from inspected records only, inverse-propensity weighted."""
    mask = top_mask(score, rate) & inspected
    total = float(w[mask].sum())
    return float((w[mask] * hit[mask]).sum() / total) if total > 0 else float("nan")


def evaluate_scores(
    frame: pd.DataFrame,
    scores: Mapping[str, ArrayLike],
    *,
    rates: Sequence[float] = INSPECTION_RATES,
    channels: ArrayLike | None = None,
    protected: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """Evaluate rankings on a window of records, on truth and on observed labels side by side.

    Parameters
    ----------
    frame
        The records, with ``truth_violation`` / ``truth_mechanism`` / ``truth_revenue_at_stake_usd`` when
        synthetic, and ``inspected`` / ``observed_label`` / ``selection_propensity`` when they carry the
        legacy outcome.
    scores
        Name -> score per record (higher = riskier), e.g. the model, the oracle, random, legacy, logistic.
    channels
        The model's assigned channel per record, for per-channel hit rates.
    protected
        Protected columns for the per-group selection and hit rates (DOMAIN.md 3.5 outcome test).

    Returns
    -------
    dict of str to DataFrame
        ``truth`` (precision, recall, revenue, uplift per scorer and rate, plus ``oracle_ratio`` where an
        ``oracle`` scorer is given), ``observed`` (IPW hit rate estimated from inspected records only),
        ``mechanisms`` (recall per planted mechanism at 5%), ``channels`` and ``groups``.
    """
    out: dict[str, pd.DataFrame] = {}
    has_truth = "truth_violation" in frame.columns
    if has_truth:
        y = frame["truth_violation"].to_numpy(dtype=bool)
        revenue = (
            frame["truth_revenue_at_stake_usd"] if "truth_revenue_at_stake_usd" in frame.columns else None
        )
        table = selection_table(y, scores, rates=rates, revenue=revenue)
        if "oracle" in scores:
            ref = table[table["scorer"] == "oracle"].set_index("rate")
            for metric in ("precision", "recall", "revenue"):
                if metric in table.columns:
                    table[f"{metric}_vs_oracle"] = (
                        table[metric].to_numpy() / ref.loc[table["rate"], metric].to_numpy()
                    )
        out["truth"] = table
        if "truth_mechanism" in frame.columns:
            mech = frame["truth_mechanism"].astype(object).to_numpy()
            mech_rows: list[dict[str, Any]] = []
            for name, score in scores.items():
                mask = top_mask(score, 0.05)
                row: dict[str, Any] = {"scorer": name}
                for m in sorted({str(v) for v in mech[y] if v is not None and v == v}):
                    sel = mech == m
                    row[m] = float(mask[sel].mean()) if sel.any() else float("nan")
                mech_rows.append(row)
            out["mechanisms"] = pd.DataFrame(mech_rows)
    if {"inspected", "observed_label"} <= set(frame.columns):
        inspected = frame["inspected"].to_numpy(dtype=bool)
        hit = frame["observed_label"].fillna(False).to_numpy(dtype=bool)
        prop = (
            frame["selection_propensity"].to_numpy(dtype=np.float64)
            if "selection_propensity" in frame.columns
            else np.ones(len(frame))
        )
        w = 1.0 / np.clip(prop, 1e-9, 1.0)
        out["observed"] = pd.DataFrame(
            [
                {
                    "scorer": name,
                    "rate": rate,
                    "ipw_hit_rate": _ipw_at(np.asarray(s, dtype=np.float64), inspected, hit, w, rate),
                    "inspected_in_top": int((top_mask(s, rate) & inspected).sum()),
                }
                for name, s in scores.items()
                for rate in rates
            ]
        )
    if channels is not None and has_truth:
        ch = pd.Series(np.asarray(channels), name="channel")
        out["channels"] = (
            pd.DataFrame({"channel": ch, "violation": frame["truth_violation"].to_numpy(dtype=bool)})
            .groupby("channel", observed=False)
            .agg(records=("violation", "size"), hit_rate=("violation", "mean"))
            .assign(share=lambda d: d["records"] / len(ch))
        )
    if protected and channels is not None and has_truth:
        selected = np.isin(np.asarray(channels, dtype=object), ["yellow", "red"])
        rows: list[dict[str, Any]] = []
        for col in protected:
            if col not in frame.columns:
                continue
            raw = frame[col]
            if pd.api.types.is_numeric_dtype(raw) and not isinstance(raw.dtype, pd.CategoricalDtype):
                # numeric attributes (age) are compared in bands, not value by value
                bands = pd.cut(
                    pd.to_numeric(raw, errors="coerce"),
                    [-np.inf, 17, 29, 44, 59, np.inf],
                    labels=["<18", "18-29", "30-44", "45-59", "60+"],
                )
                values = bands.astype(str).to_numpy(dtype=object)
            else:
                values = raw.astype(str).to_numpy(dtype=object)
            for value in pd.Series(values).value_counts().index[:10]:
                g = values == value
                rows.append(
                    {
                        "attribute": col,
                        "group": value,
                        "records": int(g.sum()),
                        "selection_rate": float(selected[g].mean()),
                        "hit_rate_selected": float(y[g & selected].mean())
                        if (g & selected).any()
                        else float("nan"),
                        "violation_rate": float(y[g].mean()),
                    }
                )
        out["groups"] = pd.DataFrame(rows)
    return out
