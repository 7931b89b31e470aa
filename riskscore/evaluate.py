"""Metrics the way customs evaluates selection: hit rate, detection and revenue at a fixed inspection rate.

docs/domain.md 5: precision@n% (hit rate) and recall@n% (detection rate) at inspection rates 1, 2, 5, 10, 20%,
and revenue@n% (share of the duty at stake found in the top n%).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from riskscore.exceptions import ParameterError, SchemaError
from riskscore.spec import outcome_text

if TYPE_CHECKING:
    from riskscore.model import RiskModel
    from riskscore.spec import LabelSpec

__all__ = [
    "INSPECTION_RATES",
    "Comparison",
    "at_rate",
    "compare_models",
    "compare_scores",
    "evaluate_outcomes",
    "evaluate_scores",
    "observed_channels",
    "selection_table",
    "top_mask",
    "window_metrics",
]

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


def _outcomes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(inspected, violation found, inverse-propensity weight) per record; None without inspection outcomes."""
    if not {"inspected", "observed_label"} <= set(frame.columns):
        return None
    inspected = frame["inspected"].to_numpy(dtype=bool)
    hit = frame["observed_label"].fillna(False).to_numpy(dtype=bool)
    prop = (
        frame["selection_propensity"].to_numpy(dtype=np.float64)
        if "selection_propensity" in frame.columns
        else np.ones(len(frame))
    )
    return inspected, hit, 1.0 / np.clip(prop, 1e-9, 1.0)


def observed_channels(frame: pd.DataFrame, labels: LabelSpec) -> tuple[NDArray[np.bool_], NDArray[np.str_]]:
    """Which records were inspected, and the channel each inspection showed, read through a spec's [labels].

    Parameters
    ----------
    frame
        Records with the ``[labels] outcome`` column (and ``inspected``, when the spec names one).
    labels
        The spec's ``[labels]`` table.

    Returns
    -------
    inspected : numpy.ndarray of bool
        The ``inspected`` column, or, when the spec names none, "has an outcome".
    channel : numpy.ndarray of str
        The outcome mapped through ``[labels] values``; ``"green"`` where there is no outcome.

    Raises
    ------
    SchemaError
        An inspected record's outcome is a value ``[labels] values`` does not map (column, values, rows).
    """
    outcome = frame[labels.outcome]
    has_outcome = outcome.notna().to_numpy(dtype=bool)
    inspected = (
        frame[labels.inspected].fillna(False).astype(bool).to_numpy()
        if labels.inspected is not None
        else has_outcome
    )
    text = outcome_text(outcome)
    channel_of = labels.channel_of
    unknown = inspected & has_outcome & ~text.isin(list(channel_of)).to_numpy(dtype=bool)
    if unknown.any():
        rows = np.flatnonzero(unknown)
        values = sorted({str(v) for v in text.to_numpy(dtype=object)[rows]})
        raise SchemaError(
            f"column {labels.outcome!r} holds outcome value(s) {values} that spec [labels] values does not map "
            f"to a channel (rows {', '.join(map(str, rows[:5]))}{' ...' if len(rows) > 5 else ''}); add them "
            f"to [labels] values, e.g. values = {{ {', '.join(f'{v!r} = ' + repr('red') for v in values[:2])} }}"
        )
    channel = text.map(channel_of).fillna("green").to_numpy(dtype=str)
    return inspected, channel


def _spec_outcomes(
    frame: pd.DataFrame, labels: LabelSpec
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float64]]:
    """(inspected, violation found, inverse-propensity weight) per record, from a spec's [labels].

    What :func:`window_metrics` and :func:`evaluate_scores` read from the synthetic columns (``inspected``,
    ``observed_label``, ``selection_propensity``), from the columns the spec names instead: a finding is an
    outcome mapped to yellow or red; the weight is ``1 / propensity`` when ``[labels] propensity`` is in the
    records (a missing propensity weighs 1), else 1.
    """
    inspected, channel = observed_channels(frame, labels)
    if labels.propensity is not None and labels.propensity in frame.columns:
        prop = pd.to_numeric(frame[labels.propensity], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        w = 1.0 / np.clip(np.nan_to_num(prop, nan=1.0), 1e-9, 1.0)
    else:
        w = np.ones(len(frame))
    return inspected, inspected & (channel != "green"), w


def evaluate_outcomes(
    model: RiskModel,
    frame: pd.DataFrame,
    *,
    rates: Sequence[float] = INSPECTION_RATES,
    by: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Evaluate a model on a window of records with the inspection outcomes its spec's ``[labels]`` names.

    No truth or oracle is needed: this is what a risk unit can measure on its own declarations. The model
    scores the records; each inspection rate takes the top ``rate`` of them by risk.

    Parameters
    ----------
    model
        The model (:class:`~riskscore.model.RiskModel`); its spec says where the outcomes are.
    frame
        Records the model was not trained on (e.g. ``TrainResult.test``), with the declared columns and the
        ``[labels]`` outcome column (and the ``inspected``, ``propensity`` and ``revenue`` columns the spec
        names, where it names them).
    rates
        Inspection rates, each in (0, 1].
    by
        A column to break the window down by (an office, a procedure): per value, the records, how many
        were inspected and found, the hit rate among the inspected and the share the model flags.

    Returns
    -------
    dict of str to DataFrame
        ``outcomes``: one row per rate with ``top_records``, ``inspected_in_top``, ``found_in_top``,
        ``precision`` (hit rate among the inspected records in the top, inverse-propensity weighted when the
        spec declares a propensity), ``recall`` (the weighted share of all violations found by inspection
        that lies in the top), ``uplift`` (precision over the window's hit rate) and, with ``[labels]
        revenue``, ``revenue`` (the weighted share of that column's total in the top). Undefined figures
        (no inspected record in the top) are NaN. With ``by``, also ``by``: one row per value of that
        column (most records first): ``records``, ``inspected``, ``found``, ``hit_rate`` (weighted, among
        inspected) and ``share_flagged`` (assigned yellow or red).

    Raises
    ------
    SchemaError
        The spec has no ``[labels]``, the records lack its outcome (or inspected) column, or an outcome
        value is not mapped to a channel.
    ParameterError
        ``by`` names a column the records do not have, or a rate is outside (0, 1].

    Examples
    --------
    >>> import riskscore
    >>> from riskscore.synthetic import generate_shipments
    >>> tables = evaluate_outcomes(riskscore.load("shipment"), generate_shipments(3_000, seed=2), by="office_type")
    >>> list(tables["outcomes"].columns[:4])
    ['rate', 'top_records', 'inspected_in_top', 'found_in_top']
    >>> int(tables["by"]["records"].sum())
    3000
    """
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"frame must be a pandas DataFrame of records; got {type(frame).__name__}")
    spec = model.spec
    labels = spec.labels
    if labels is None:
        raise SchemaError(
            f"spec {spec.name!r} has no [labels] table, so the records' inspection outcomes cannot be read; "
            'add e.g. [labels] outcome = "finding" with values = { "0" = "green", "1" = "red" }'
        )
    missing = [c for c in (labels.outcome, labels.inspected) if c is not None and c not in frame.columns]
    if missing:
        raise SchemaError(
            f"evaluating on inspection outcomes needs column(s) {', '.join(map(repr, missing))} (spec "
            f"{spec.name!r} [labels]: what the inspections found and which records were inspected); "
            "evaluate on records that carry them"
        )
    if by is not None and by not in frame.columns:
        raise ParameterError(
            f"by names column {by!r}, which the records do not have; choose one of: "
            f"{', '.join(spec.names(roles=('category', 'entity')))}"
        )
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise ParameterError(f"inspection rate must be in (0, 1]; got {rate!r}")
    frame = frame.reset_index(drop=True)
    pred = model.predict(frame)
    score = pred["risk_score"].to_numpy(dtype=np.float64)
    inspected, found, w = _spec_outcomes(frame, labels)
    wi, wf = np.where(inspected, w, 0.0), np.where(found, w, 0.0)
    overall = float(wf.sum() / wi.sum()) if wi.sum() > 0 else math.nan
    revenue = None
    if labels.revenue is not None and labels.revenue in frame.columns:
        revenue = w * np.nan_to_num(
            pd.to_numeric(frame[labels.revenue], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        )
    rows = []
    for rate in rates:
        top = top_mask(score, rate)
        precision = float(wf[top].sum() / wi[top].sum()) if wi[top].sum() > 0 else math.nan
        row: dict[str, Any] = {
            "rate": float(rate),
            "top_records": int(top.sum()),
            "inspected_in_top": int((top & inspected).sum()),
            "found_in_top": int((top & found).sum()),
            "precision": precision,
            "recall": float(wf[top].sum() / wf.sum()) if wf.sum() > 0 else math.nan,
            "uplift": precision / overall if overall > 0 else math.nan,
        }
        if revenue is not None:
            row["revenue"] = float(revenue[top].sum() / revenue.sum()) if revenue.sum() > 0 else math.nan
        rows.append(row)
    out = {"outcomes": pd.DataFrame(rows)}
    if by is not None:
        flagged = pred["channel"].astype(str).isin(["yellow", "red"]).to_numpy(dtype=bool)
        groups = (
            frame[by].astype(object).where(frame[by].notna(), "(missing)").astype(str).to_numpy(dtype=object)
        )
        table = (
            pd.DataFrame(
                {
                    by: groups,
                    "records": 1,
                    "inspected": inspected,
                    "found": found,
                    "wi": wi,
                    "wf": wf,
                    "flag": flagged,
                }
            )
            .groupby(by, sort=False)
            .agg(
                records=("records", "size"),
                inspected=("inspected", "sum"),
                found=("found", "sum"),
                wi=("wi", "sum"),
                wf=("wf", "sum"),
                share_flagged=("flag", "mean"),
            )
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            table.insert(3, "hit_rate", np.where(table["wi"] > 0, table["wf"] / table["wi"], np.nan))
        out["by"] = (
            table.drop(columns=["wi", "wf"])
            .astype({"inspected": "int64", "found": "int64"})
            .sort_values("records", ascending=False, kind="stable")
            .reset_index()
        )
    return out


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
        Protected columns for the per-group selection and hit rates (docs/domain.md 3.5 outcome test).

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
    outcomes = _outcomes(frame)
    if outcomes is not None:
        inspected, hit, w = outcomes
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


def _rounded(value: float) -> float | None:
    """Round a metric for a JSON document to 6 decimals; None where it is undefined (NaN)."""
    return round(float(value), 6) if math.isfinite(value) else None


def window_metrics(
    frame: pd.DataFrame,
    score: ArrayLike,
    *,
    rates: Sequence[float] = INSPECTION_RATES,
    outcomes: tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float64]] | None = None,
) -> dict[str, Any]:
    """Compact, JSON-safe metrics of one ranking on a window of records (what a model file keeps).

    Parameters
    ----------
    frame
        The records, with their inspection outcomes (``inspected``, ``observed_label`` and, when known,
        ``selection_propensity``) and, on synthetic data, the truth columns.
    score
        One score per record, higher = riskier.
    rates
        Inspection rates.
    outcomes
        (inspected, violation found, inverse-propensity weight) per record, for records whose outcomes are
        in other columns (read through a spec's ``[labels]``); default: read from the columns above.

    Returns
    -------
    dict
        ``records``; with inspection outcomes, ``inspected``, ``found`` (inspections that found a violation)
        and ``observed``, one entry per rate: ``precision`` (hit rate among the inspected records in the top
        ``rate``, inverse-propensity weighted: the ``ipw_hit_rate`` of :func:`evaluate_scores`), ``recall``
        (the weighted share of the violations found by inspections that lies in the top ``rate``) and
        ``inspected_in_top``. On synthetic data with truth columns, ``truth``: ``precision``, ``recall`` and
        ``revenue`` per rate as in :func:`selection_table`. Undefined figures (no inspected record in the
        top) are None; the others are rounded to 6 decimals.

    Examples
    --------
    >>> frame = pd.DataFrame(
    ...     {"inspected": [True, True, False, True], "observed_label": pd.array([True, False, None, True])}
    ... )
    >>> top_half = window_metrics(frame, [0.9, 0.8, 0.7, 0.1], rates=(0.5,))["observed"][0]
    >>> top_half["precision"], top_half["recall"], top_half["inspected_in_top"]
    (0.5, 0.5, 2)
    """
    s = np.asarray(score, dtype=np.float64)
    if s.shape != (len(frame),):
        raise ParameterError(f"score must hold one number per record ({len(frame)}); got shape {s.shape}")
    out: dict[str, Any] = {"records": len(frame)}
    if outcomes is None:
        outcomes = _outcomes(frame)
    if outcomes is not None:
        inspected, hit, w = outcomes
        found = inspected & hit
        total_found = float(w[found].sum())
        rows = []
        for rate in rates:
            top = top_mask(s, rate)
            recall = float(w[top & found].sum()) / total_found if total_found > 0 else math.nan
            rows.append(
                {
                    "rate": float(rate),
                    "precision": _rounded(_ipw_at(s, inspected, hit, w, rate)),
                    "recall": _rounded(recall),
                    "inspected_in_top": int((top & inspected).sum()),
                }
            )
        out.update(inspected=int(inspected.sum()), found=int(found.sum()), observed=rows)
    if "truth_violation" in frame.columns:
        revenue = (
            frame["truth_revenue_at_stake_usd"] if "truth_revenue_at_stake_usd" in frame.columns else None
        )
        table = selection_table(
            frame["truth_violation"].to_numpy(dtype=bool), {"model": s}, rates=rates, revenue=revenue
        )
        out["truth"] = [
            {
                "rate": float(row["rate"]),
                **{m: _rounded(row[m]) for m in ("precision", "recall", "revenue") if m in table.columns},
            }
            for _, row in table.iterrows()
        ]
    return out


@dataclass(frozen=True)
class Comparison:
    """A new model against the champion: the hit rate at one inspection rate, with its uncertainty.

    The hit rate is the one of :func:`evaluate_scores`'s ``observed`` table: among the inspected records in
    a model's top ``rate``, inverse-propensity weighted. ``str()`` gives the figures in one line:
    ``new 0.412 vs champion 0.398: +0.014 (95% interval -0.006 to +0.033)``.

    Attributes
    ----------
    rate : float
        The inspection rate.
    new, champion : float
        Each model's hit rate on the window (NaN when no inspected record is in its top).
    difference : float
        ``new - champion``.
    low, high : float
        Paired bootstrap 95% interval of the difference (both models on the same resamples of records).
    verdict : {"better", "worse", "within noise"}
        ``"better"`` when the whole interval lies above 0, ``"worse"`` when below, else ``"within noise"``.
    records, inspected : int
        Records in the window, and how many of them were inspected.
    n_boot, seed : int
        Bootstrap resamples and their seed.
    """

    rate: float
    new: float
    champion: float
    difference: float
    low: float
    high: float
    verdict: Literal["better", "worse", "within noise"]
    records: int
    inspected: int
    n_boot: int
    seed: int

    def __str__(self) -> str:
        return (
            f"new {self.new:.3f} vs champion {self.champion:.3f}: {self.difference:+.3f} "
            f"(95% interval {self.low:+.3f} to {self.high:+.3f})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as a JSON-safe dict (undefined figures are None)."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            out[name] = (None if math.isnan(value) else value) if isinstance(value, float) else value
        out["interval"] = [out.pop("low"), out.pop("high")]
        return out


# P(Poisson(1) <= i) for i = 0..11: a multiplicity is the number of these a uniform draw exceeds (a draw
# above 12 has probability 1e-10, so capping there changes nothing measurable)
_POISSON1_CDF = np.cumsum([math.exp(-1.0) / math.factorial(i) for i in range(12)]).astype(np.float32)


def _bootstrap_hit_rates(
    scores: Sequence[NDArray[np.float64]],
    num: NDArray[np.float64],
    den: NDArray[np.float64],
    rate: float,
    n_boot: int,
    seed: int,
) -> NDArray[np.float64]:
    """IPW hit rates at ``rate`` of several rankings on the same bootstrap resamples: shape (n_boot, rankings).

    ``num`` and ``den`` per record are ``w * inspected * hit`` and ``w * inspected``. A resample gives
    each record a multiplicity drawn Poisson(1) (the Poisson bootstrap, the large-sample equivalent of
    drawing n records with replacement), and its top is the first ``ceil(rate * size)`` copies down each
    ranking. Only the records near the top of a ranking can be in it, so multiplicities are drawn for the
    heads of the rankings alone and the rest of the resample enters through its size (a sum of Poisson(1)
    draws is one Poisson draw). A head is several standard deviations longer than the top; should a
    resample need more, the heads are lengthened and the draws made again.
    """
    n = len(num)
    k0 = math.ceil(rate * n)
    width = min(n, k0 + math.ceil(6 * math.sqrt(k0 + rate * rate * n)) + 32)
    orders = [np.argsort(-s, kind="stable") for s in scores]
    while True:
        rng = np.random.default_rng(seed)
        heads = [order[:width] for order in orders]
        pool = np.unique(np.concatenate(heads))
        where = [np.searchsorted(pool, head) for head in heads]
        # only inspected records carry a weight: the sums run over them alone
        weighted = [np.flatnonzero(den[head] > 0) for head in heads]
        out = np.empty((n_boot, len(scores)))
        step = max(1, 4_000_000 // len(pool))  # resamples per batch: bounded memory
        reached = True
        for lo in range(0, n_boot, step):
            b = min(step, n_boot - lo)
            uniform = rng.random((b, len(pool)), dtype=np.float32)
            counts = np.zeros((b, len(pool)), dtype=np.uint8)
            for q in _POISSON1_CDF:
                counts += uniform > q
            size = counts.sum(axis=1, dtype=np.int64) + rng.poisson(float(n - len(pool)), size=b)
            k = np.ceil(rate * size).astype(np.int64)
            rows = np.arange(b)
            for m, (head, pos, ins) in enumerate(zip(heads, where, weighted, strict=True)):
                c = counts[:, pos]
                cum = np.cumsum(c, axis=1, dtype=np.int32)
                j = (cum < k[:, None]).sum(axis=1)  # the position where the top fills up
                if (j >= width).any():
                    reached = False
                    break
                before = np.where(j > 0, cum[rows, np.maximum(j - 1, 0)], 0)
                part = (k - before).astype(np.float64)  # copies of the record at position j in the top
                above = c[:, ins] * (ins[None, :] < j[:, None])  # multiplicities of the full positions
                sums = [above @ value[ins] + part * value[j] for value in (num[head], den[head])]
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[lo : lo + b, m] = np.where(sums[1] > 0, sums[0] / sums[1], np.nan)
            if not reached:
                break
        if reached:
            return out
        width = min(n, 2 * width)


def _check_compare_args(rate: float, n_boot: int, seed: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise ParameterError(f"rate (the inspection rate) must be in (0, 1]; got {rate!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ParameterError(
            f"n_boot (bootstrap resamples) must be a whole number >= 100 for a 95% interval; got {n_boot!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a whole number >= 0; got {seed!r}")


def compare_scores(
    frame: pd.DataFrame,
    new: ArrayLike,
    champion: ArrayLike,
    *,
    rate: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare two rankings of the same records by their hit rate at ``rate``, with a paired bootstrap.

    Parameters
    ----------
    frame
        The records with their inspection outcomes: ``inspected``, ``observed_label`` and, when known,
        ``selection_propensity``.
    new, champion
        One score per record from each model, higher = riskier.
    rate
        The inspection rate.
    n_boot
        Bootstrap resamples (at least 100).
    seed
        Seed of the resampling: the same inputs and seed give the same interval.

    Returns
    -------
    Comparison

    Raises
    ------
    SchemaError
        The records lack the inspection outcomes, or none of them was inspected.
    ParameterError
        A score array of the wrong length or with NaN, or an invalid ``rate``, ``n_boot`` or ``seed``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> hit = rng.random(4000) < 0.1
    >>> frame = pd.DataFrame({"inspected": True, "observed_label": hit})
    >>> sharp, blunt = hit + rng.random(4000), hit + 10 * rng.random(4000)
    >>> compare_scores(frame, sharp, blunt).verdict
    'better'
    >>> compare_scores(frame, sharp, sharp).verdict
    'within noise'
    """
    _check_compare_args(rate, n_boot, seed)
    outcomes = _outcomes(frame)
    if outcomes is None:
        missing = [c for c in ("inspected", "observed_label") if c not in frame.columns]
        raise SchemaError(
            f"comparing hit rates needs the inspection outcomes; the records lack column(s) {missing}: "
            "compare on records that carry 'inspected' and 'observed_label' (and 'selection_propensity')"
        )
    inspected, hit, w = outcomes
    if not len(frame):
        raise SchemaError(
            "no records to compare the models on; give a window of records with inspection outcomes"
        )
    if not inspected.any():
        raise SchemaError(
            f"none of the {len(frame):,} records was inspected, so no hit rate can be measured; compare on "
            "a window with inspection outcomes"
        )
    a, b = (np.asarray(s, dtype=np.float64) for s in (new, champion))
    for name, s in (("new", a), ("champion", b)):
        if s.shape != (len(frame),):
            raise ParameterError(f"{name} must hold one score per record ({len(frame)}); got shape {s.shape}")
    h_new, h_champion = (_ipw_at(s, inspected, hit, w, rate) for s in (a, b))
    den = np.where(inspected, w, 0.0)
    boot = _bootstrap_hit_rates([a, b], np.where(hit, den, 0.0), den, rate, n_boot, seed)
    diff = boot[:, 0] - boot[:, 1]
    diff = diff[np.isfinite(diff)]
    low, high = (float(q) for q in np.quantile(diff, [0.025, 0.975])) if len(diff) else (math.nan,) * 2
    verdict: Literal["better", "worse", "within noise"] = (
        "better" if low > 0 else "worse" if high < 0 else "within noise"
    )
    return Comparison(
        rate=float(rate),
        new=h_new,
        champion=h_champion,
        difference=h_new - h_champion,
        low=low,
        high=high,
        verdict=verdict,
        records=len(frame),
        inspected=int(inspected.sum()),
        n_boot=n_boot,
        seed=seed,
    )


def compare_models(
    new: RiskModel,
    champion: RiskModel,
    records: pd.DataFrame,
    *,
    rate: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare a new model with the champion on records with inspection outcomes (see :func:`compare_scores`).

    Both models score the records; their hit rates at ``rate`` (IPW, among inspected records in the top)
    are compared with a paired bootstrap 95% interval of the difference. ``riskscore train --champion``
    replaces the champion only on the verdict ``"better"`` (the interval lies above 0).

    Parameters
    ----------
    new, champion
        The models (:class:`~riskscore.model.RiskModel`).
    records
        A window neither model was trained on, e.g. ``TrainResult.test`` (the latest window).
    rate, n_boot, seed
        As in :func:`compare_scores`.

    Returns
    -------
    Comparison
    """
    if not isinstance(records, pd.DataFrame):
        raise ParameterError(
            f"records must be a pandas DataFrame with inspection outcomes; got {type(records).__name__}"
        )
    _check_compare_args(rate, n_boot, seed)
    frame = records.reset_index(drop=True)
    scores = [model.predict(frame)["risk_score"].to_numpy(dtype=np.float64) for model in (new, champion)]
    return compare_scores(frame, scores[0], scores[1], rate=rate, n_boot=n_boot, seed=seed)
