"""Monitoring a deployed model on a batch: drift of its inputs and scores, channels, hit rate and fairness.

What a batch is compared with is stored in the model file at training time (``monitor.json``), never
recomputed from the batch: :func:`reference_profile` keeps, for every input field, the bin edges of its
training quantiles (numbers) or its most frequent values (categories) with their shares; the bin edges and
shares of the calibrated risk score on the validation window; the channel shares the policy gave that window
and its targets; and the hit rate of the training window's inspections.

:func:`monitor` scores a batch with the model and returns a :class:`MonitorReport`:

- the population stability index (PSI) of the risk score and of every profiled field, over the stored bins;
- the batch's channel shares against the reference and the policy's targets;
- the hit rate of the batch's recorded inspections against the training window's;
- per categorical field, the share of values never seen in training (new importers, new codes);
- per protected group (docs/domain.md 3.5), selection rate and hit rate with intervals, and the outcome
  test: a group selected significantly more than the rest while its inspections find significantly less
  is flagged. The batch's recorded inspections are tested (that is how legacy rules are audited) and so is
  the model's own selection.

The PSI of reference shares ``r`` and batch shares ``b`` over the same bins is
``sum((b_i - r_i) * ln(b_i / r_i))``, each share first smoothed as ``(s_i + 1e-4) / (1 + B * 1e-4)`` so that
an empty bin contributes a finite amount. Bands: below 0.10 stable, 0.10 to 0.25 watch, above act.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from riskscore._hashing import text_codes
from riskscore.evaluate import observed_channels
from riskscore.exceptions import ParameterError, SchemaError
from riskscore.features.builder import RAW_ROLES
from riskscore.policy import CHANNELS
from riskscore.validation import validate_frame

if TYPE_CHECKING:
    from riskscore.model import RiskModel
    from riskscore.spec import ColumnSpec, RecordSpec

__all__ = [
    "PROFILE_VERSION",
    "MonitorReport",
    "monitor",
    "profiled_columns",
    "psi",
    "reference_profile",
    "score_psi",
    "wilson_interval",
]

#: Layout version of the stored profile (``monitor.json``); a reader refuses a newer one.
PROFILE_VERSION = 1
PROFILE_FORMAT = "riskscore-monitor"
#: Quantile bins of a numeric field and of the risk score (fewer when quantiles coincide).
BINS = 10
#: Most frequent values of a categorical field kept as bins; the others share one bin.
TOP_CATEGORIES = 20
#: A field with at most this many distinct training values stores them all for its unseen rate; above it, the
#: model's own record of the field is used (its history of the key, or its category list).
MAX_SEEN = 2000
#: Added to every bin's share before the PSI (then renormalised), so that an empty bin stays finite.
EPSILON = 1e-4
#: PSI bands: below the first stable, up to the second watch, above act.
PSI_BANDS = (0.10, 0.25)
#: Bands of the unseen share *above* the reference window's: below the first stable, up to the second watch.
UNSEEN_BANDS = (0.05, 0.15)
#: Numeric protected attributes are compared in bands; the age bands start at these ages.
GROUP_BANDS: Mapping[str, tuple[float, ...]] = {"age": (25.0, 40.0, 60.0)}
STATUSES = ("stable", "watch", "act", "n/a")
_MISSING_GROUP = "(missing)"
_NO_STATE = (
    "the model has no monitoring state: {where} was written by {writer}, before riskscore stored the training "
    "reference (bin edges and shares of every field and of the risk score) in the model file. Retrain the model "
    "with this version of riskscore (riskscore.train or `riskscore train`) to enable monitoring"
)


# -------------------------------------------------------------------------------------------- statistics


def psi(reference: ArrayLike, batch: ArrayLike, *, epsilon: float = EPSILON) -> float:
    """Return the population stability index of two share vectors over the same bins.

    Each vector is smoothed, ``(s + epsilon) / sum(s + epsilon)``, so that a bin empty on one side adds a
    large but finite amount instead of infinity.

    Parameters
    ----------
    reference, batch
        Shares (or counts) per bin, in the same bin order.
    epsilon
        Added to every share before renormalising.

    Returns
    -------
    float
        ``sum((b - r) * ln(b / r))``, 0 when the two are equal.

    Examples
    --------
    >>> round(psi([0.5, 0.5], [0.5, 0.5]), 6)
    0.0
    >>> round(psi([0.5, 0.5], [0.9, 0.1]), 3)
    0.878
    """
    r = np.asarray(reference, dtype=np.float64)
    b = np.asarray(batch, dtype=np.float64)
    if r.shape != b.shape or r.ndim != 1 or len(r) == 0:
        raise ParameterError(
            f"psi needs two share vectors over the same bins; got shapes {r.shape} and {b.shape}"
        )
    r = (r / max(r.sum(), 1e-300) + epsilon) / (1 + epsilon * len(r))
    b = (b / max(b.sum(), 1e-300) + epsilon) / (1 + epsilon * len(b))
    return float(np.sum((b - r) * np.log(b / r)))


def wilson_interval(hits: int, n: int, *, level: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``hits / n`` at confidence ``level``.

    Examples
    --------
    >>> tuple(round(x, 4) for x in wilson_interval(12, 100))
    (0.07, 0.1981)
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    if n <= 0:
        return math.nan, math.nan
    z = float(norm.ppf(0.5 + level / 2))
    return _wilson(hits, n, z)


def _wilson(k: float, n: float, z: float) -> tuple[float, float]:
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denominator
    # exact at the ends (no rounding residue): none found -> from 0, all found -> up to 1
    return (0.0 if k <= 0 else max(centre - half, 0.0)), (1.0 if k >= n else min(centre + half, 1.0))


def _difference_interval(k1: int, n1: int, k2: int, n2: int, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``k1/n1 - k2/n2`` (from the two Wilson intervals)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1, z)
    l2, u2 = _wilson(k2, n2, z)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def _band(value: float | None, bands: tuple[float, float]) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return "stable" if value < bands[0] else "watch" if value <= bands[1] else "act"


# ----------------------------------------------------------------------------------- the stored reference


def profiled_columns(spec: RecordSpec) -> list[ColumnSpec]:
    """Return the declared columns a profile covers, in spec order.

    The model's inputs (roles used as features: category, amount, quantity, weight, count, duration, rate,
    flag), the entities its history features are keyed on (compared by their unseen share only) and the
    protected attributes (not inputs by default, but watched for drift and fairness). Ids, times and free
    text are left out.
    """
    return [
        c
        for c in spec.columns
        if c.declared
        and c.type != "datetime"
        and c.name not in (spec.id_column, spec.time_column)
        and (c.role in RAW_ROLES or c.role == "entity" or c.protected)
    ]


def _is_numeric(column: ColumnSpec) -> bool:
    return column.type in ("int", "float")


def _numbers(series: pd.Series) -> NDArray[np.float64]:
    return np.asarray(pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))


def _edges(values: NDArray[np.float64], bins: int = BINS) -> list[float]:
    """Inner bin edges: the training quantiles at 1/bins .. (bins-1)/bins, each an observed value, deduplicated.

    Bins are right-closed, ``(-inf, e1], (e1, e2], ..., (ek, inf)``: a value beyond the training range
    falls in an end bin, and a point mass (zero duty, no bag) gets a bin of its own.
    """
    known = values[np.isfinite(values)]
    if len(known) == 0:
        return []
    q = np.quantile(known, np.arange(1, bins) / bins, method="inverted_cdf")
    return [float(v) for v in np.unique(q)]


def _numeric_counts(values: NDArray[np.float64], edges: Sequence[float]) -> NDArray[np.float64]:
    """Count the values per stored bin, then the missing ones (the quantile code is never called here)."""
    missing = ~np.isfinite(values)
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values[~missing], side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(np.float64)
    return np.append(counts, float(missing.sum()))


def _category_counts(series: pd.Series, categories: Sequence[str]) -> NDArray[np.float64]:
    """Count the values per stored category, then "other" (any other value, unseen ones too), then missing."""
    values, codes = text_codes(series)
    at = pd.Index(list(categories), dtype=object).get_indexer(pd.Index(values, dtype=object))
    at = np.where(at >= 0, at, len(categories))
    slots = np.where(codes >= 0, at[codes.clip(0)] if len(values) else 0, len(categories) + 1)
    return np.bincount(slots, minlength=len(categories) + 2).astype(np.float64)


def _unseen_share(series: pd.Series, seen: Sequence[str]) -> float | None:
    """Share of the non-missing values that are not in ``seen`` (None: no value at all)."""
    values, codes = text_codes(series)
    known = codes >= 0
    if not known.any():
        return None
    new = ~pd.Index(values, dtype=object).isin(list(seen))
    return float(new[codes[known]].mean()) if len(values) else None


def _shares(counts: NDArray[np.float64]) -> list[float]:
    total = counts.sum()
    return [float(c / total) for c in counts] if total > 0 else [0.0] * len(counts)


def _history_feature(spec: RecordSpec, column: str) -> str | None:
    """Return the history feature keyed on ``column`` alone (whose unseen share is the model's record of it)."""
    for feature in spec.features:
        if feature.kind == "history" and tuple(feature.inputs) == (column,):
            return feature.name
    return None


def _field_profile(
    column: ColumnSpec,
    train: pd.Series,
    valid: pd.Series | None,
    model: RiskModel,
    unseen_history: Mapping[str, float],
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": column.name, "protected": bool(column.protected)}
    if _is_numeric(column):
        numbers_ = _numbers(train)
        edges = _edges(numbers_)
        known = numbers_[np.isfinite(numbers_)]
        out.update(
            kind="numeric",
            edges=edges,
            shares=_shares(_numeric_counts(numbers_, edges)),
            range=[float(known.min()), float(known.max())] if len(known) else None,
        )
        return out
    values, codes = text_codes(train)
    counts = np.bincount(codes[codes >= 0], minlength=len(values))
    order = sorted(range(len(values)), key=lambda i: (-counts[i], str(values[i])))
    entity = column.role == "entity"
    top = [] if entity else [str(values[i]) for i in order[:TOP_CATEGORIES] if counts[i] > 0]
    seen = sorted(str(values[i]) for i in range(len(values)) if counts[i] > 0)
    unseen: dict[str, Any] = {"basis": None, "reference": None}
    feature = _history_feature(model.spec, column.name)
    kept = model.features.categorical_.get(column.name)
    if len(seen) <= MAX_SEEN:
        unseen.update(basis="values", values=seen)
        unseen["reference"] = None if valid is None else _unseen_share(valid, seen)
    elif feature is not None:
        unseen.update(basis="history", feature=feature, reference=unseen_history.get(feature))
    elif kept is not None:
        unseen.update(basis="categories")
        unseen["reference"] = None if valid is None else _unseen_share(valid, kept)
    out.update(kind="entity" if entity else "categorical", unseen=unseen)
    if not entity:
        out.update(categories=top, shares=_shares(_category_counts(train, top)))
    return out


def _inspections(frame: pd.DataFrame, spec: RecordSpec) -> tuple[NDArray[np.bool_], NDArray[np.bool_]] | None:
    """(inspected, found a violation) per record, read through the spec's [labels]; None without outcomes."""
    labels = spec.labels
    if labels is None or labels.outcome not in frame.columns:
        return None
    if labels.inspected is not None and labels.inspected not in frame.columns:
        return None
    inspected, channel = observed_channels(frame, labels)
    return inspected, inspected & (channel != "green")


def _period(frame: pd.DataFrame, spec: RecordSpec) -> list[str] | None:
    if len(frame) == 0 or spec.time_column not in frame.columns:
        return None
    times = frame[spec.time_column]
    return [str(times.min()), str(times.max())]


def reference_profile(
    model: RiskModel,
    train: pd.DataFrame,
    *,
    valid: pd.DataFrame,
    risk: ArrayLike,
    p_red: ArrayLike,
    unseen_history: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Compute the monitoring reference that training stores in the model file (``monitor.json``).

    Parameters
    ----------
    model
        The trained model (spec, fitted features and fitted policy).
    train
        The training window's records, validated, with their outcome columns.
    valid
        The validation window's records, validated.
    risk, p_red
        The calibrated risk score and the probability of red the model gives each validation record.
    unseen_history
        The share of validation records whose key has no earlier record in the training history, per history
        feature (:meth:`~riskscore.features.FeatureBuilder.unseen_rates` of the validation features built
        before the history was extended).

    Returns
    -------
    dict
        A JSON-safe document: ``fields`` (per profiled field: numeric bin edges and shares, or its top
        categories and shares, missing share last, and what its unseen share is measured against), ``risk``
        (edges and shares on the validation window), ``channels`` (validation shares and the policy's
        targets), ``hit_rate`` (the training window's inspections and findings, or None), the windows'
        sizes and periods.
    """
    spec = model.spec
    unseen_history = dict(unseen_history or {})
    fields = [
        _field_profile(
            column,
            train[column.name],
            valid[column.name] if column.name in valid.columns else None,
            model,
            unseen_history,
        )
        for column in profiled_columns(spec)
        if column.name in train.columns
    ]
    risk_v = np.asarray(risk, dtype=np.float64)
    risk_edges = _edges(risk_v)
    channel, _ = model.policy.assign(
        valid, valid[spec.id_column], np.asarray(p_red, dtype=np.float64), risk_v
    )
    policy = model.policy
    targets = {
        "red": policy.red_share + policy.random_red,
        "yellow": policy.yellow_share + policy.random_yellow,
    }
    targets["green"] = max(1.0 - targets["red"] - targets["yellow"], 0.0)
    outcomes = _inspections(train, spec)
    return {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "training": {"rows": len(train), "period": _period(train, spec)},
        "validation": {"rows": len(valid), "period": _period(valid, spec)},
        "fields": fields,
        "risk": {"edges": risk_edges, "shares": _shares(_numeric_counts(risk_v, risk_edges))[:-1]},
        "channels": {
            "reference": {c: float(np.mean(channel == c)) if len(channel) else 0.0 for c in CHANNELS},
            "target": {c: float(targets[c]) for c in CHANNELS},
        },
        "hit_rate": None
        if outcomes is None
        else {"inspected": int(outcomes[0].sum()), "hits": int(outcomes[1].sum())},
    }


# ----------------------------------------------------------------------------------------- the report


def _short(x: float) -> str:
    """Write a bin edge as people read it: 1234.5 -> 1.23k, 0.04512 -> 0.0451."""
    a = abs(x)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{x / size:.3g}{suffix}"
    return f"{x:.3g}"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Name right-closed bins over inner ``edges``, then the missing bin.

    Examples
    --------
    >>> bin_labels([0.0, 10.0])
    ['≤0', '(0, 10]', '>10', 'missing']
    >>> bin_labels([])
    ['all', 'missing']
    """
    if not edges:
        return ["all", "missing"]
    text = [_short(e) for e in edges]
    inner = [f"({a}, {b}]" for a, b in itertools.pairwise(text)]
    return [f"≤{text[0]}", *inner, f">{text[-1]}", "missing"]


@dataclass(frozen=True)
class MonitorReport:
    """What :func:`monitor` found in a batch; every part is JSON-safe (no NaN: missing figures are None).

    Attributes
    ----------
    model_version, records
        The model and the batch size.
    bands, unseen_bands
        The PSI bands and the bands of the unseen share above the reference.
    risk
        PSI of the risk score, its status, stored edges, bin labels, reference and batch shares.
    fields
        Per profiled field: kind, PSI and status (numeric and categorical fields), stored edges or
        categories, bin labels, reference and batch shares (missing last).
    channels
        PSI and status of the channel shares, and per channel the batch, reference and target shares.
    hit_rate
        The batch's inspections and findings, hit rate with its 95% interval, the training window's, the
        interval of the difference and the status (``n/a`` without outcomes).
    unseen
        Per categorical or entity field: the share of values never seen in training, the reference
        window's share, what it is measured against and the status.
    fairness
        Per selection (``recorded``: the batch's inspections; ``model``: the model's yellow and red),
        protected attribute and group of at least ``min_group`` records: records, selected, selection rate
        and interval, outcomes known, hits, hit rate and interval, the ratios to the rest of the batch,
        ``flagged`` (the outcome test) and the status (``act`` when flagged).
    notes
        What could not be computed and why.
    settings
        The fairness settings used (``min_group``, ``min_inspected``, ``selection_ratio``, ``alpha``).
    """

    model_version: str
    records: int
    bands: tuple[float, float]
    unseen_bands: tuple[float, float]
    risk: dict[str, Any]
    fields: list[dict[str, Any]]
    channels: dict[str, Any]
    hit_rate: dict[str, Any]
    unseen: list[dict[str, Any]]
    fairness: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The worst status of every check: ``act``, ``watch`` or ``stable``."""
        found = set(self.table()["status"])
        return next((s for s in ("act", "watch") if s in found), "stable")

    def flagged(self) -> list[dict[str, Any]]:
        """Return the fairness rows the outcome test flagged (over-selected, found less)."""
        return [row for row in self.fairness if row["flagged"]]

    def table(self) -> pd.DataFrame:
        """Return one row per check: ``section``, ``name``, ``value``, ``status``, ``detail``.

        Sections: ``risk`` (PSI), ``field`` (PSI per field), ``channel`` (PSI of the shares, then each
        channel's share), ``hit_rate``, ``unseen`` (share never seen in training) and ``fairness``
        (selection rate per group; status ``act`` when the outcome test flags it).
        """
        rows: list[tuple[str, str, float | None, str, str]] = []
        r = self.risk
        rows.append(
            (
                "risk",
                "risk_score",
                r["psi"],
                r["status"],
                f"PSI over {len(r['reference'])} bins of the validation window's risk scores",
            )
        )
        for f in self.fields:
            if f["kind"] == "entity":
                continue
            missing = f"missing {_pct(f['batch'][-1])} (training {_pct(f['reference'][-1])})"
            kind = "bins" if f["kind"] == "numeric" else "categories"
            rows.append(
                ("field", f["name"], f["psi"], f["status"], f"PSI over {len(f['labels'])} {kind}; {missing}")
            )
        c = self.channels
        rows.append(
            (
                "channel",
                "all",
                c["psi"],
                c["status"],
                "PSI of the channel shares against the validation window's",
            )
        )
        for ch in reversed(CHANNELS):
            one = c["shares"][ch]
            rows.append(
                (
                    "channel",
                    ch,
                    one["batch"],
                    "",
                    f"target {_pct(one['target'])}, validation window {_pct(one['reference'])}",
                )
            )
        h = self.hit_rate
        rows.append(("hit_rate", "inspections", h.get("rate"), h["status"], h["detail"]))
        for u in self.unseen:
            rows.append(("unseen", u["name"], u["share"], u["status"], u["detail"]))
        for g in self.fairness:
            rows.append(
                (
                    "fairness",
                    f"{g['selection']}: {g['attribute']} = {g['group']}",
                    g["selection_rate"],
                    g["status"],
                    g["detail"],
                )
            )
        return pd.DataFrame(rows, columns=["section", "name", "value", "status", "detail"])

    def to_dict(self) -> dict[str, Any]:
        """Return the whole report as plain JSON values (None where a figure is undefined)."""
        return _json_safe(
            {
                "model_version": self.model_version,
                "records": self.records,
                "status": self.status,
                "bands": {"psi": list(self.bands), "unseen": list(self.unseen_bands)},
                "risk": self.risk,
                "fields": self.fields,
                "channels": self.channels,
                "hit_rate": self.hit_rate,
                "unseen": self.unseen,
                "fairness": {"settings": self.settings, "groups": self.fairness},
                "notes": self.notes,
            }
        )

    def to_json(self, *, indent: int | None = None) -> str:
        """Return :meth:`to_dict` as strict JSON text (no NaN or infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    def to_html(self, *, title: str | None = None) -> str:
        """Return a self-contained HTML page: the checks, and plots of the shares and of the groups.

        Needs the ``report`` extra (jinja2). Every name and category from the data is escaped.
        """
        from riskscore.report.monitor_page import render_monitor

        return render_monitor(self.to_dict(), title=title)

    def save_html(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write :meth:`to_html` to ``path`` (``.html``) atomically; return the path written.

        Raises
        ------
        OutputError
            The path does not end in ``.html``, its folder is missing, or it cannot be written.
        """
        from riskscore._io import atomic_write_text, check_output

        out = check_output(path, (".html",))
        return atomic_write_text(out, self.to_html(title=title))

    def __repr__(self) -> str:
        """Return a one-line summary: the model, the batch, the overall status and each section's."""
        scored = [f for f in self.fields if f["kind"] != "entity"]
        act = sum(f["status"] == "act" for f in scored)
        watch = sum(f["status"] == "watch" for f in scored)
        u_act = sum(u["status"] == "act" for u in self.unseen)
        u_watch = sum(u["status"] == "watch" for u in self.unseen)
        risk = self.risk["psi"]
        risk_text = "n/a" if risk is None else f"{risk:.3f}"
        return (
            f"MonitorReport({self.model_version!r}, {self.records:,} records: {self.status}; "
            f"risk PSI {risk_text} {self.risk['status']}, fields {act} act / {watch} watch of {len(scored)}, "
            f"channels {self.channels['status']}, hit rate {self.hit_rate['status']}, "
            f"unseen {u_act} act / {u_watch} watch, fairness {len(self.flagged())} flagged)"
        )

    def _repr_html_(self) -> str:
        """Notebook view: the overall status and every check that is not stable."""
        from riskscore._display import box, table

        checks = self.table()
        shown = checks[checks["status"].isin(["act", "watch"])]
        rows = [
            (s, n, "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}", st, d)
            for s, n, v, st, d in shown.itertuples(index=False, name=None)
        ]
        body = (
            table(rows, ["section", "name", "value", "status", "detail"]) if rows else "every check is stable"
        )
        return box(
            "Monitoring",
            f"{self.model_version}: {self.records:,} records, status {self.status} "
            f"({len(checks)} checks, {len(shown)} not stable)",
            [body],
        )


def _pct(x: Any) -> str:
    if x is None or not isinstance(x, numbers.Real) or not math.isfinite(float(x)):
        return "n/a"
    v = float(x) * 100
    return f"{v:.2g}%" if 0 < v < 1 else f"{v:.1f}%"


def _json_safe(obj: Any) -> Any:
    """Plain JSON values: numpy scalars to Python numbers, NaN and infinities to None, tuples to lists."""
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------------------------------ monitoring


def _check_bands(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ParameterError(
            f"{name} must be two increasing positive numbers (stable below the first, act above the second), "
            f"like (0.10, 0.25); got {value!r}"
        )
    return lo, hi


def _check_settings(min_group: Any, min_inspected: Any, selection_ratio: Any, alpha: Any) -> None:
    for name, value, low in (("min_group", min_group, 1), ("min_inspected", min_inspected, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ParameterError(f"{name} must be a whole number >= {low}; got {value!r}")
    if (
        isinstance(selection_ratio, bool)
        or not isinstance(selection_ratio, numbers.Real)
        or not float(selection_ratio) >= 1
    ):
        raise ParameterError(
            f"selection_ratio must be a number >= 1 (how many times the rest's selection rate a group must "
            f"reach to be tested), like 1.5; got {selection_ratio!r}"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < float(alpha) < 1:
        raise ParameterError(f"alpha must be a significance level between 0 and 1, like 0.05; got {alpha!r}")


def _check_group_bands(group_bands: Any) -> dict[str, tuple[float, ...]]:
    out: dict[str, tuple[float, ...]] = {}
    for name, starts in dict(group_bands).items():
        try:
            values = tuple(float(v) for v in starts)
        except (TypeError, ValueError):
            values = ()
        if not values or not all(map(math.isfinite, values)) or list(values) != sorted(set(values)):
            raise ParameterError(
                f"group_bands[{name!r}] must list increasing band starts, like (25, 40, 60) for the bands <25, "
                f"25-39, 40-59, 60+; got {starts!r}"
            )
        out[str(name)] = values
    return out


def _profile_of(model: RiskModel) -> Mapping[str, Any]:
    profile = getattr(model, "monitoring", None)
    if profile is None:
        created_by = getattr(model, "created_by", None)
        where = "its model file" if created_by else "this model"
        writer = created_by or "code that did not go through riskscore.train"
        raise ParameterError(f"{_NO_STATE.format(where=where, writer=writer)} (model {model.version})")
    return profile


def score_psi(model: RiskModel, risk: ArrayLike) -> float:
    """Return the PSI of risk scores already computed against the model's stored reference.

    The same figure as the risk-score row of :func:`monitor`, for a loop that has scored its batch
    (``riskscore.simulate`` checks each week's scores with it). Raises ParameterError for a model without
    monitoring state.
    """
    values = np.asarray(risk, dtype=np.float64)
    return float(_risk_section(_profile_of(model), values, PSI_BANDS)["psi"])


def _batch_frame(batch: Any, spec: RecordSpec) -> pd.DataFrame:
    if isinstance(batch, str | os.PathLike):
        from riskscore._io import read_table

        return read_table(batch, spec=spec)
    if isinstance(batch, pd.DataFrame):
        return batch
    raise SchemaError(
        f"the batch must be a pandas DataFrame of {spec.name} records or the path of a .parquet or .csv file; "
        f"got {type(batch).__name__}"
    )


def _risk_section(
    profile: Mapping[str, Any], risk: NDArray[np.float64], bands: tuple[float, float]
) -> dict[str, Any]:
    stored = profile["risk"]
    edges = list(stored["edges"])
    batch = _shares(_numeric_counts(risk, edges))[:-1]  # the risk score is never missing
    value = psi(stored["shares"], batch)
    return {
        "psi": value,
        "status": _band(value, bands),
        "edges": edges,
        "labels": bin_labels(edges)[:-1],
        "reference": list(stored["shares"]),
        "batch": batch,
    }


def _field_sections(
    profile: Mapping[str, Any],
    frame: pd.DataFrame,
    model: RiskModel,
    unseen_history: Mapping[str, float],
    bands: tuple[float, float],
    unseen_bands: tuple[float, float],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    fields: list[dict[str, Any]] = []
    unseen: list[dict[str, Any]] = []
    for stored in profile["fields"]:
        name, kind = stored["name"], stored["kind"]
        series = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
        out: dict[str, Any] = {"name": name, "kind": kind, "protected": stored["protected"]}
        if kind == "numeric":
            edges = list(stored["edges"])
            batch = _shares(_numeric_counts(_numbers(series), edges))
            value = psi(stored["shares"], batch)
            out.update(
                psi=value,
                status=_band(value, bands),
                edges=edges,
                labels=bin_labels(edges),
                reference=list(stored["shares"]),
                batch=batch,
            )
        elif kind == "categorical":
            categories = list(stored["categories"])
            batch = _shares(_category_counts(series, categories))
            value = psi(stored["shares"], batch)
            out.update(
                psi=value,
                status=_band(value, bands),
                categories=categories,
                labels=[*categories, "other", "missing"],
                reference=list(stored["shares"]),
                batch=batch,
            )
        else:
            out.update(psi=None, status="n/a")
        fields.append(out)
        if kind != "numeric" and model.spec.column(name).type != "bool":  # a flag has no new values
            unseen.append(_unseen_row(stored, series, model, unseen_history, unseen_bands))
    return fields, unseen


def _unseen_row(
    stored: Mapping[str, Any],
    series: pd.Series,
    model: RiskModel,
    unseen_history: Mapping[str, float],
    bands: tuple[float, float],
) -> dict[str, Any]:
    info = stored["unseen"]
    basis, reference = info["basis"], info["reference"]
    share: float | None = None
    if basis == "values":
        share = _unseen_share(series, info["values"])
        against = f"the {len(info['values']):,} values of the training window"
    elif basis == "history":
        share = unseen_history.get(info["feature"])
        against = f"the model's history of {info['feature']!r} (no earlier record)"
    elif basis == "categories":
        kept = model.features.categorical_.get(stored["name"], [])
        share = _unseen_share(series, kept)
        against = f"the model's {len(kept):,} categories (values seen at least {model.features.min_category_count} times)"
    else:
        against = "nothing: too many distinct training values to store and no model state for the field"
    excess = None if share is None else share - (reference or 0.0)
    status = _band(excess, bands) if share is not None else "n/a"
    detail = (
        f"share of the batch's values not among {against}; reference window (validation) {_pct(reference)}"
    )
    return {
        "name": stored["name"],
        "basis": basis,
        "share": share,
        "reference": reference,
        "status": status,
        "detail": detail,
    }


def _channel_section(
    profile: Mapping[str, Any], channel: NDArray[Any], bands: tuple[float, float]
) -> dict[str, Any]:
    stored = profile["channels"]
    n = len(channel)
    batch = {c: float(np.count_nonzero(channel == c) / n) for c in CHANNELS}
    value = psi([stored["reference"][c] for c in CHANNELS], [batch[c] for c in CHANNELS])
    return {
        "psi": value,
        "status": _band(value, bands),
        "shares": {
            c: {"batch": batch[c], "reference": stored["reference"][c], "target": stored["target"][c]}
            for c in CHANNELS
        },
    }


def _hit_rate_section(
    profile: Mapping[str, Any], outcomes: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None
) -> dict[str, Any]:
    stored = profile.get("hit_rate")
    if outcomes is None:
        return {
            "status": "n/a",
            "detail": "the batch carries no inspection outcomes (the columns the spec's [labels] names)",
        }
    inspected, hits = int(outcomes[0].sum()), int(outcomes[1].sum())
    out: dict[str, Any] = {"inspected": inspected, "hits": hits}
    if inspected == 0:
        return {**out, "status": "n/a", "detail": "no record of the batch was inspected"}
    rate = hits / inspected
    low, high = wilson_interval(hits, inspected)
    out.update(rate=rate, interval=[low, high])
    text = f"{hits:,} found in {inspected:,} inspections, 95% interval {_pct(low)} to {_pct(high)}"
    if stored is None or stored["inspected"] == 0:
        return {
            **out,
            "status": "n/a",
            "detail": f"{text}; the model was trained without inspection outcomes",
        }
    ref = stored["hits"] / stored["inspected"]
    out.update(reference=ref, reference_inspected=stored["inspected"])
    # one-sided: a hit rate that falls is the sign of decay; one that rises (a model selecting better) is not
    diff95 = _difference_interval(
        hits, inspected, stored["hits"], stored["inspected"], float(norm.ppf(0.975))
    )
    diff999 = _difference_interval(
        hits, inspected, stored["hits"], stored["inspected"], float(norm.ppf(0.9995))
    )
    status = "act" if diff999[1] < 0 else "watch" if diff95[1] < 0 else "stable"
    out.update(difference_interval=list(diff95), status=status)
    out["detail"] = (
        f"{text}; training window {_pct(ref)} of {stored['inspected']:,}: difference {_pct(rate - ref)} "
        f"(95% interval {_pct(diff95[0])} to {_pct(diff95[1])}); watch when significantly lower at 95%, act at 99.9%"
    )
    return out


# ------------------------------------------------------------------------------------------- fairness


def _group_values(
    frame: pd.DataFrame,
    column: ColumnSpec,
    profile_field: Mapping[str, Any] | None,
    group_bands: Mapping[str, Sequence[float]],
) -> tuple[NDArray[np.object_], list[str] | None]:
    """Each record's group: its category, or for a number its band (age: <25, 25-39, 40-59, 60+).

    Also the bands in their natural order (None for categories, which are listed by size).
    """
    series = frame[column.name]
    if not _is_numeric(column):
        values, codes = text_codes(series)
        names = np.array([*map(str, values), _MISSING_GROUP], dtype=object)
        return names[np.where(codes >= 0, codes, len(values))], None
    x = _numbers(series)
    out = np.full(len(x), _MISSING_GROUP, dtype=object)
    known = np.isfinite(x)
    if column.name in group_bands:
        starts = sorted(float(v) for v in group_bands[column.name])
        labels = [f"<{_short(starts[0])}"]
        for a, b in itertools.pairwise(starts):
            whole = float(a).is_integer() and float(b).is_integer()
            labels.append(f"{_short(a)}-{_short(b - 1)}" if whole else f"{_short(a)} to <{_short(b)}")
        labels.append(f"{_short(starts[-1])}+")
        index = np.searchsorted(np.asarray(starts), x[known], side="right")
    else:
        edges = list(profile_field["edges"]) if profile_field is not None else _edges(x)
        labels = bin_labels(edges)[:-1]
        index = np.searchsorted(np.asarray(edges, dtype=np.float64), x[known], side="left")
    out[known] = np.asarray(labels, dtype=object)[index]
    return out, [*labels, _MISSING_GROUP]


@dataclass(frozen=True)
class _Selection:
    name: str
    meaning: str
    selected: NDArray[np.bool_]
    known: NDArray[np.bool_] | None  # selected records whose inspection outcome is known
    hits: NDArray[np.bool_] | None


def _fairness_rows(
    selection: _Selection,
    groups: list[tuple[str, NDArray[np.object_], list[str] | None]],
    *,
    min_group: int,
    min_inspected: int,
    ratio: float,
    alpha: float,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per group of enough records: rates, intervals and the outcome test against the rest of the batch.

    The test, at family-wise level ``alpha``: first, a group selected at least ``ratio`` times as often as
    the rest, the Newcombe interval of the difference above zero at the Bonferroni level over every group
    tested (``m``); then, among those ``k`` groups, the hit rate of the group's inspections below the
    rest's, the interval of the difference below zero at level ``alpha / k``. Both must hold to flag.
    """
    sel, known, hits = selection.selected, selection.known, selection.hits
    n_all = len(sel)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    candidates: list[dict[str, Any]] = []
    for attribute, values, order in groups:
        names, counts = np.unique(values, return_counts=True)
        rank = {name: i for i, name in enumerate(order or [])}
        small = 0
        for name, count in sorted(
            zip(names, counts, strict=True), key=lambda t: (rank.get(t[0], -t[1]), str(t[0]))
        ):
            if count < min_group:
                small += 1
                continue
            g = values == name
            row: dict[str, Any] = {
                "selection": selection.name,
                "attribute": attribute,
                "group": str(name),
                "records": int(count),
                "selected": int(sel[g].sum()),
                "selection_rate": float(sel[g].mean()),
                "selection_interval": list(wilson_interval(int(sel[g].sum()), int(count))),
                "rest_selection_rate": float(sel[~g].mean()) if (~g).any() else None,
                "selection_ratio": None,
                "outcomes": None,
                "hits": None,
                "hit_rate": None,
                "hit_interval": None,
                "rest_hit_rate": None,
                "hit_ratio": None,
                "flagged": False,
                "status": "stable",
            }
            rest_rate = row["rest_selection_rate"]
            if rest_rate:
                row["selection_ratio"] = row["selection_rate"] / rest_rate
            if known is not None and hits is not None:
                k_g, h_g = int(known[g].sum()), int(hits[g].sum())
                k_r, h_r = int(known[~g].sum()), int(hits[~g].sum())
                row.update(outcomes=k_g, hits=h_g)
                if k_g:
                    row.update(hit_rate=h_g / k_g, hit_interval=list(wilson_interval(h_g, k_g)))
                if k_r:
                    row["rest_hit_rate"] = h_r / k_r
                    if k_g and h_r:
                        row["hit_ratio"] = (h_g / k_g) / (h_r / k_r)
            if row["selected"] < min_inspected or count == n_all:
                row["status"] = "n/a"
            else:
                candidates.append(row)
            rows.append(row)
        if small:
            notes.append(
                f"{selection.name} selection: {small} group(s) of {attribute} with fewer than {min_group} records "
                "were not tested"
            )
    m = len(candidates)
    screened = []
    if m:
        z = float(norm.ppf(1 - alpha / (2 * m)))
        for row in candidates:
            g_sel, g_n = row["selected"], row["records"]
            r_sel = int(sel.sum()) - g_sel
            r_n = n_all - g_n
            low, _ = _difference_interval(g_sel, g_n, r_sel, r_n, z)
            over = row["selection_ratio"] is not None and row["selection_ratio"] >= ratio and low > 0
            row["over_selected"] = bool(over)
            if over:
                screened.append(row)
    k = len(screened)
    tested = [
        row
        for row in screened
        if row["outcomes"] is not None
        and row["outcomes"] >= min_inspected
        and known is not None
        and int(known.sum()) - row["outcomes"] >= min_inspected
    ]
    if k:
        z = float(norm.ppf(1 - alpha / (2 * k)))
        for row in tested:
            assert known is not None and hits is not None
            r_k = int(known.sum()) - row["outcomes"]
            r_h = int(hits.sum()) - row["hits"]
            _, high = _difference_interval(row["hits"], row["outcomes"], r_h, r_k, z)
            row["hit_difference_upper"] = high
            if high < 0:
                row.update(flagged=True, status="act")
    for row in rows:
        row["detail"] = _fairness_detail(row, selection, min_inspected)
    return rows, notes


def _fairness_detail(row: Mapping[str, Any], selection: _Selection, min_inspected: int) -> str:
    ratio = row["selection_ratio"]
    text = (
        f"{selection.meaning}: {row['selected']:,} of {row['records']:,} ({_pct(row['selection_rate'])}, "
        f"95% {_pct(row['selection_interval'][0])} to {_pct(row['selection_interval'][1])}) against "
        f"{_pct(row['rest_selection_rate'])} for the rest" + ("" if ratio is None else f" (x{ratio:.2f})")
    )
    if row["hit_rate"] is not None:
        text += (
            f"; found in {row['hits']:,} of {row['outcomes']:,} ({_pct(row['hit_rate'])}, 95% "
            f"{_pct(row['hit_interval'][0])} to {_pct(row['hit_interval'][1])}) against {_pct(row['rest_hit_rate'])}"
        )
    elif row["outcomes"] is None:
        text += "; no outcomes to test whether its inspections find less"
    if row["flagged"]:
        text += ": selected more and found less (outcome test): over-targeted"
    elif row.get("over_selected"):
        if row["outcomes"] is not None and row["outcomes"] >= min_inspected:
            text += ": selected more, but its inspections do not find significantly less"
        else:
            text += f": selected more; fewer than {min_inspected} outcomes to test what its inspections find"
    elif row["status"] == "n/a":
        text += f": fewer than {min_inspected} selected, not tested"
    return text


def _fairness_section(
    frame: pd.DataFrame,
    channel: NDArray[Any],
    spec: RecordSpec,
    profile: Mapping[str, Any],
    outcomes: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None,
    *,
    groups: Sequence[str] | None,
    group_bands: Mapping[str, Sequence[float]],
    min_group: int,
    min_inspected: int,
    ratio: float,
    alpha: float,
) -> tuple[list[dict[str, Any]], list[str]]:
    names = list(spec.protected_columns) if groups is None else list(groups)
    declared = set(spec.declared_columns)
    unknown = [g for g in names if g not in declared]
    if unknown:
        raise ParameterError(
            f"groups names {unknown}, which are not declared columns of spec {spec.name!r}; give protected "
            f"attributes such as {spec.protected_columns or spec.declared_columns[:3]}"
        )
    stored = {f["name"]: f for f in profile["fields"]}
    columns = [spec.column(n) for n in names if n in frame.columns]
    notes = [f"group column {n!r} is not in the batch" for n in names if n not in frame.columns]
    values = [(c.name, *_group_values(frame, c, stored.get(c.name), group_bands)) for c in columns]
    if not values:
        return [], notes or ["the spec has no protected attributes: no fairness check"]
    selections = []
    model_selected = np.isin(channel, ["yellow", "red"])
    if outcomes is not None:
        inspected, found = outcomes
        selections.append(_Selection("recorded", "inspected", inspected, inspected, found))
        selections.append(
            _Selection(
                "model",
                "sent yellow or red by the model",
                model_selected,
                model_selected & inspected,
                found & model_selected,
            )
        )
    else:
        notes.append(
            "the batch carries no inspection outcomes: only the model's selection rates are shown, without the "
            "outcome test"
        )
        selections.append(_Selection("model", "sent yellow or red by the model", model_selected, None, None))
    rows: list[dict[str, Any]] = []
    for selection in selections:
        part, more = _fairness_rows(
            selection, values, min_group=min_group, min_inspected=min_inspected, ratio=ratio, alpha=alpha
        )
        rows += part
        notes += more
    return rows, notes


def monitor(
    model: RiskModel,
    batch: pd.DataFrame | str | os.PathLike[str],
    *,
    bands: tuple[float, float] = PSI_BANDS,
    groups: Sequence[str] | None = None,
    group_bands: Mapping[str, Sequence[float]] | None = None,
    unseen_bands: tuple[float, float] = UNSEEN_BANDS,
    min_group: int = 200,
    min_inspected: int = 20,
    selection_ratio: float = 1.5,
    alpha: float = 0.05,
    num_threads: int | None = None,
) -> MonitorReport:
    """Compare a batch with the reference stored in the model at training time.

    Parameters
    ----------
    model
        A model trained by this version of riskscore (its file holds ``monitor.json``).
    batch
        The batch's records (a DataFrame, or the path of a .parquet or .csv file) with the spec's declared
        columns; with the columns the spec's ``[labels]`` names (outcome, inspected), the hit rate and the
        outcome test of the recorded inspections are computed too.
    bands
        PSI bands: below the first stable, up to the second watch, above act (default 0.10, 0.25).
    groups
        Columns whose groups the fairness checks compare; default the spec's protected attributes (for
        passengers: nationality, residence country, sex, age, document issuing country).
    group_bands
        Band starts of numeric group columns; default ``{"age": (25, 40, 60)}`` (<25, 25-39, 40-59, 60+);
        another numeric column is banded by its stored training deciles.
    unseen_bands
        Bands of a field's unseen share above the reference window's (default 5 and 15 points).
    min_group, min_inspected
        A group is tested only with at least ``min_group`` records and ``min_inspected`` selected (and the
        hit rates with ``min_inspected`` outcomes on each side), so that small groups raise no false flags.
    selection_ratio
        How many times the rest's selection rate a group must reach to be called over-selected.
    alpha
        Family-wise significance level of the outcome test (Bonferroni over the groups tested).
    num_threads
        LightGBM threads for scoring the batch (see :meth:`RiskModel.predict`).

    Returns
    -------
    MonitorReport

    Raises
    ------
    ParameterError
        The model has no monitoring state (a file written before riskscore stored one: retrain it), the batch
        is empty, or an option is out of range.
    SchemaError
        The batch misses a column the spec requires or holds an impossible value (the message names the
        column, the row and the fix), or is neither a DataFrame nor a readable file.

    Examples
    --------
    >>> from riskscore.model import ChannelModel
    >>> from riskscore.synthetic import generate_shipments
    >>> from riskscore.training import train
    >>> history = generate_shipments(20_000, seed=3)
    >>> model = train(history, estimator=ChannelModel(n_estimators=40), num_threads=1).model
    >>> report = monitor(model, history.tail(3_000), num_threads=1)
    >>> report  # doctest: +ELLIPSIS
    MonitorReport('shipment-...', 3,000 records: ...; risk PSI 0.0... stable, fields ...)
    >>> report.table().columns.tolist()
    ['section', 'name', 'value', 'status', 'detail']
    >>> report.risk["edges"] == model.monitoring["risk"]["edges"]  # the stored bins, never the batch's
    True
    """
    profile = _profile_of(model)
    bands = _check_bands(bands, "bands")
    unseen_bands = _check_bands(unseen_bands, "unseen_bands")
    _check_settings(min_group, min_inspected, selection_ratio, alpha)
    spec = model.spec
    raw = _batch_frame(batch, spec)
    if len(raw) == 0:
        raise ParameterError(
            f"the batch holds no records ({len(raw.columns)} columns, 0 rows): monitoring compares a batch's "
            "distributions with the training reference; pass the records of a day or a week of traffic"
        )
    frame = validate_frame(raw.reset_index(drop=True), spec, columns="declared", extra="keep")
    pred = model.predict(frame, num_threads=num_threads)
    channel = pred["channel"].astype(str).to_numpy(dtype=object)
    unseen_history = pred.attrs.get("unseen_history") or {}
    outcomes = _inspections(frame, spec)
    fields, unseen = _field_sections(profile, frame, model, unseen_history, bands, unseen_bands)
    fairness, notes = _fairness_section(
        frame,
        channel,
        spec,
        profile,
        outcomes,
        groups=groups,
        group_bands=_check_group_bands(GROUP_BANDS if group_bands is None else group_bands),
        min_group=int(min_group),
        min_inspected=int(min_inspected),
        ratio=float(selection_ratio),
        alpha=float(alpha),
    )
    return MonitorReport(
        model_version=model.version,
        records=len(frame),
        bands=bands,
        unseen_bands=unseen_bands,
        risk=_json_safe(_risk_section(profile, pred["risk_score"].to_numpy(dtype=np.float64), bands)),
        fields=_json_safe(fields),
        channels=_json_safe(_channel_section(profile, channel, bands)),
        hit_rate=_json_safe(_hit_rate_section(profile, outcomes)),
        unseen=_json_safe(unseen),
        fairness=_json_safe(fairness),
        notes=notes,
        settings={
            "min_group": int(min_group),
            "min_inspected": int(min_inspected),
            "selection_ratio": float(selection_ratio),
            "alpha": float(alpha),
        },
    )
