"""Why a record was flagged: TreeSHAP contributions, grouped to declared fields, turned into reason codes.

Contributions come from LightGBM's own TreeSHAP (``pred_contrib=True``): per record, one value per model
feature plus the base value, adding up exactly to the risk model's raw output (the log-odds that an
inspection finds a violation). One record given as a dict is explained without pandas (LightGBM's
single-row TreeSHAP on ``RiskModel.predict_one``'s feature row), with exactly the batch path's result.
Derived features are attributed back to the declared fields they are computed from, so an officer reads
"declared value" or "importer", never an internal feature name. Reason sentences come from one versioned
table (``riskscore/reasons.toml``) and quote the record's own values.
"""

from __future__ import annotations

import math
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore.exceptions import ParameterError
from riskscore.features.registry import KINDS
from riskscore.spec import RecordSpec

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.model import ChannelModel, RiskModel

__all__ = [
    "REASONS_VERSION",
    "Explainer",
    "Explanation",
    "Reason",
    "explain",
    "feature_fields",
    "global_importance",
]


@lru_cache(maxsize=1)
def _reason_table() -> tuple[int, dict[str, list[dict[str, str]]]]:
    raw = tomllib.loads((resources.files("riskscore") / "reasons.toml").read_text(encoding="utf-8"))
    table: dict[str, list[dict[str, str]]] = {}
    for entry in raw["reason"]:
        table.setdefault(entry["feature"], []).append(entry)
    return int(raw["version"]), table


REASONS_VERSION = _reason_table()[0]


@dataclass(frozen=True)
class Reason:
    """One reason a record was flagged: a stable code, a sentence, the fields, the contribution."""

    code: str
    text: str
    fields: tuple[str, ...]
    contribution: float


def _kinds(spec: RecordSpec) -> dict[str, Any]:
    """Return the spec's derived features as kind objects (see ``riskscore.features.registry``), by name."""
    return {f.name: KINDS[f.kind](f) for f in spec.features}


def feature_fields(spec: RecordSpec, feature_names: list[str]) -> dict[str, tuple[str, ...]]:
    """Map each model feature to the declared fields it comes from.

    Raw features map to themselves; derived features to the declared fields their kind says they are
    explained by (a reference deviation to its value's fields, not to the grouping columns that define
    the comparison; a history output to its key's columns; the calendar to the timestamp).
    """
    kinds = _kinds(spec)
    columns = {c.name for c in spec.columns}
    outputs: dict[str, tuple[str, ...]] = {}

    def resolve(item: str) -> tuple[str, ...]:
        name = item.partition(":")[0]
        if name in columns:
            return (name,)
        return kind_fields(name)[name] if name in kinds else (name,)

    def kind_fields(name: str) -> dict[str, tuple[str, ...]]:
        return kinds[name].fields(resolve)

    for name in kinds:
        outputs.update(kind_fields(name))
    return {name: (name,) if name in columns else outputs.get(name, (name,)) for name in feature_names}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3g}"
    return str(value)


class _Values(dict[str, str]):
    """Template values: computed ones set up front, record fields formatted only when a text uses them."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def __missing__(self, key: str) -> str:
        return _fmt(self.record[key]) if key in self.record else "?"


def _quote(spec: RecordSpec, name: str, record: Mapping[str, Any]) -> str:
    """Return the record's decoded value of a declared field as people read it (a rate as a percentage)."""
    value = record.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "unknown"
    if spec.column(name).role == "rate" and isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value) * 100:.4g}%"
    return _fmt(value)


def _generic_text(
    feature: str,
    value: float,
    record: Mapping[str, Any],
    spec: RecordSpec,
    fields: tuple[str, ...],
    owner: Any,
) -> str:
    """Return a sentence for a feature without an entry in reasons.toml, from the spec alone.

    It names declared fields by their labels and quotes the record's decoded values: never a column name,
    a feature name or a category code. A derived feature's kind words it where it can
    (:meth:`FeatureKind.sentence`).
    """
    columns = {c.name for c in spec.columns}
    if feature in columns:
        return f"{spec.column(feature).display}: {_quote(spec, feature, record)}"
    if owner is not None:  # the kind object that makes the feature
        text = owner.sentence(feature, value, record, spec)
        if text is not None:
            return text
    cols = [f for f in fields if f in columns]
    if not cols:  # pragma: no cover - every feature resolves to declared fields
        return (
            owner.feat.description if owner is not None and owner.feat.description else "Derived value"
        ) + (f": {_fmt(value)}")
    return "; ".join(f"{spec.column(c).display}: {_quote(spec, c, record)}" for c in cols)


def _code(*parts: str) -> str:
    """Return a reason code made of names: upper case, each run of other characters one underscore."""
    return "_".join(re.sub(r"[^A-Z0-9]+", "_", p.upper()).strip("_") for p in parts)


def _sentence(
    entry: dict[str, str] | None,
    feature: str,
    value: float,
    record: dict[str, Any],
    spec: RecordSpec,
    fields: tuple[str, ...],
    owner: Any = None,
) -> tuple[str, str]:
    if entry is None:
        return _code("FEATURE", feature), _generic_text(feature, value, record, spec, fields, owner)
    values = _Values(record)
    finite = value is not None and np.isfinite(value)
    values["value"] = _fmt(value)
    values["value_int"] = _fmt(round(value)) if finite else "unknown"
    values["pct"] = f"{round(abs(math.expm1(value)) * 100):,}" if finite and abs(value) < 50 else "?"
    values["rate"] = f"{value * 100:.1f}" if finite else "?"
    values["value_pct"] = f"{value * 100:.1f}" if finite else "?"
    values["value_pct_plus"] = f"{value * 100:.0f}" if finite else "?"
    for column in spec.columns:  # rates read as percentages: {duty_rate_pct}
        if column.role == "rate" and column.name in record:
            rate = record[column.name]
            values[f"{column.name}_pct"] = (
                f"{float(rate) * 100:.0f}" if rate is not None and rate == rate else "?"
            )
    return entry["code"], entry["text"].format_map(values)


def _no_history_sentence(
    entry: dict[str, str] | None, record: Mapping[str, Any], spec: RecordSpec, owner: Any
) -> tuple[str, str]:
    """Return the reason of a history value whose key has no earlier record.

    It says so, rather than quote a rate or an age the key does not have.
    """
    if entry is not None:
        return entry["code"], entry["text"].format_map(_Values(dict(record)))
    return _code("FEATURE", owner.name, "NO_HISTORY"), owner.no_history(record, spec)


_COMPUTED = frozenset({"value", "value_int", "pct", "rate", "value_pct", "value_pct_plus"})


def _usable_entries(spec: RecordSpec, feature_names: list[str]) -> dict[str, list[dict[str, str]]]:
    """Per model feature, the reasons.toml entries whose texts only quote what records of ``spec`` hold.

    reasons.toml's texts quote the built-in specs' fields ("HS {hs_code}"); a user's own spec may reuse a
    feature name over other columns, and then gets the sentence built from its own labels instead.
    """
    quotable = {c.name for c in spec.columns} | {f"{c.name}_pct" for c in spec.columns if c.role == "rate"}
    quotable |= _COMPUTED
    table = _reason_table()[1]
    return {
        name: [e for e in table.get(name, []) if _placeholders(e["text"]) <= quotable]
        for name in feature_names
    }


@lru_cache(maxsize=1024)  # one entry per reasons.toml text
def _placeholders(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


def _entry_for(
    entries: list[dict[str, str]], value: float, *, no_history: bool = False
) -> dict[str, str] | None:
    """Pick the entry for a value's direction (or the "no earlier records" one) among a feature's entries."""
    if no_history:
        return next((e for e in entries if e.get("when") == "no_history"), None)
    for e in entries:
        when = e.get("when", "any")
        if when == "any" or (when == "negative" and value < 0) or (when == "positive" and value > 0):
            return e
    return None


@dataclass
class Explanation:
    """Contributions and reasons for a batch of records.

    Attributes
    ----------
    record_ids : pandas.Series
    contributions : pandas.DataFrame
        One column per model feature: its contribution to the risk log-odds.
    base_value : numpy.ndarray
        The expected log-odds (TreeSHAP base value), per record.
    raw : numpy.ndarray
        The risk model's raw output; equals ``base_value + contributions.sum(axis=1)``.
    fields : pandas.DataFrame
        Contributions grouped to declared fields (same total).
    values : pandas.DataFrame
        The model features' values.
    reasons : list of list of Reason
        The top reasons per record, strongest first (risk-raising contributions only).
    severity : pandas.DataFrame or None
        Contributions to the severity log-odds (red rather than yellow), when the model has that head.
    labels : dict of str to str
        The declared fields' display labels from the spec (``fields`` column -> label), for plots and
        views; empty when unknown (then a field reads as its name). Not part of equality.

    Examples
    --------
    >>> import riskscore
    >>> from riskscore.synthetic import generate_shipments
    >>> model = riskscore.load("shipment")
    >>> ex = model.explain(generate_shipments(200, seed=1), top_k=2)
    >>> repr(ex).startswith("Explanation(200 records, ")
    True
    >>> ex.labels["hs_code"] == model.spec.column("hs_code").display
    True
    """

    record_ids: pd.Series
    contributions: pd.DataFrame
    base_value: NDArray[np.float64]
    raw: NDArray[np.float64]
    fields: pd.DataFrame
    values: pd.DataFrame
    reasons: list[list[Reason]]
    severity: pd.DataFrame | None = None
    labels: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def take(self, rows: Sequence[int] | NDArray[np.intp]) -> Explanation:
        """Return the explanation of the records at positions ``rows``, in that order."""
        idx = np.asarray(rows, dtype=np.intp)

        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.iloc[idx].reset_index(drop=True)

        return Explanation(
            record_ids=self.record_ids.iloc[idx].reset_index(drop=True),
            contributions=pick(self.contributions),
            base_value=self.base_value[idx],
            raw=self.raw[idx],
            fields=pick(self.fields),
            values=pick(self.values),
            reasons=[self.reasons[i] for i in idx],
            severity=None if self.severity is None else pick(self.severity),
            labels=self.labels,
        )

    @classmethod
    def concat(cls, parts: Sequence[Explanation]) -> Explanation:
        """Join explanations of consecutive batches into one (each record's explanation is its own)."""
        if not parts:
            raise ParameterError("Explanation.concat needs at least one explanation")
        if len(parts) == 1:
            return parts[0]

        def join(frames: list[pd.DataFrame]) -> pd.DataFrame:
            return pd.concat(frames, ignore_index=True)

        severity = [p.severity for p in parts]
        return cls(
            record_ids=pd.concat([p.record_ids for p in parts], ignore_index=True),
            contributions=join([p.contributions for p in parts]),
            base_value=np.concatenate([p.base_value for p in parts]),
            raw=np.concatenate([p.raw for p in parts]),
            fields=join([p.fields for p in parts]),
            values=join([p.values for p in parts]),
            reasons=[rs for p in parts for rs in p.reasons],
            severity=None
            if any(s is None for s in severity)
            else join([s for s in severity if s is not None]),
            labels=parts[0].labels,
        )

    def __repr__(self) -> str:
        """Return a one-line summary: records, features, fields and the most frequent first reasons."""
        from riskscore._display import top_reason_counts

        parts = [
            f"{len(self.raw):,} records",
            f"{self.contributions.shape[1]} features",
            f"{self.fields.shape[1]} fields",
        ]
        top = top_reason_counts(self)
        if top:
            parts.append("top reasons " + ", ".join(f"{code} ({n:,})" for code, n in top))
        if self.severity is not None:
            parts.append("with severity")
        return f"Explanation({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """Notebook view: the first records' reasons and the global importance of the declared fields."""
        from riskscore._display import explanation_html

        return explanation_html(self, global_importance(self) if len(self.raw) else None)

    def plot_waterfall(self, i: int = 0, *, max_bars: int = 10, ax: Any = None) -> Any:
        """Plot one record's risk as a waterfall: from the base value to its log-odds, field by field.

        Each bar is one declared field's contribution (:attr:`fields`), the largest first; with more fields
        than ``max_bars``, the smallest are joined in one "other fields" bar. The bottom axis is the risk
        model's log-odds, the top one the same scale read as a probability that an inspection finds a
        violation (the model's raw probability, before calibration to the risk score).

        Parameters
        ----------
        i : int, default 0
            Position of the record in the explanation (negative counts from the end).
        max_bars : int, default 10
            Bars at most, the "other fields" bar included.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; default: a new figure.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ParameterError
            If ``i`` is not the position of a record or ``max_bars`` is not a whole number >= 1.
        MissingDependencyError
            If matplotlib is not installed (``pip install 'riskscore[report]'``).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import riskscore
        >>> from riskscore.synthetic import generate_shipments
        >>> ex = riskscore.load("shipment").explain(generate_shipments(50, seed=1))
        >>> ax = ex.plot_waterfall(0, max_bars=6)
        >>> len(ax.get_yticklabels())
        6
        """
        from riskscore._display import plot_waterfall

        return plot_waterfall(self, i, max_bars=max_bars, ax=ax)

    def reasons_frame(self) -> pd.DataFrame:
        """Long form: one row per (record, rank) with code, text, fields and contribution."""
        rows = [
            {
                "record_id": rid,
                "rank": k + 1,
                "code": r.code,
                "text": r.text,
                "fields": ", ".join(r.fields),
                "contribution": r.contribution,
            }
            for rid, rs in zip(self.record_ids, self.reasons, strict=True)
            for k, r in enumerate(rs)
        ]
        return pd.DataFrame(rows, columns=["record_id", "rank", "code", "text", "fields", "contribution"])


def _contrib(est: ChannelModel, X: NDArray[np.float64], num_threads: int) -> NDArray[np.float64]:
    out = est.booster_.predict(
        X, num_iteration=est.best_iteration_, pred_contrib=True, num_threads=num_threads
    )
    return np.asarray(out, dtype=np.float64)


# -- pieces shared by the batch path and the one-record path ------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """What an explanation needs of a model besides its boosters (built once per model, cached)."""

    names: list[str]
    mapping: dict[str, tuple[str, ...]]
    field_order: list[str]
    pos: dict[str, int]
    declared: tuple[tuple[str, str], ...]  # (name, type) of the declared columns, in spec order
    source: tuple[Any, Any]  # the spec and feature-name list it was built from (checked by identity)
    # outputs that mean nothing for a key without earlier records: position -> (position of the output
    # that is 0 then, the kind object) (FeatureKind.unseen_outputs)
    count_of: dict[int, tuple[int, Any]]
    owners: dict[str, Any]  # model feature -> the kind object that makes it (absent: a raw column)
    entries: dict[str, list[dict[str, str]]]  # model feature -> its usable reasons.toml entries


class Explainer:
    """What explanations need of a model, as plain values: spec, feature names and boosters, with caches.

    ``RiskModel.explainer()`` hands one over (and builds a new one when an estimator is replaced); the
    functions here never read a model's private state. The layout (features grouped to declared fields)
    and LightGBM's single-row predictors are built once per explainer.
    """

    def __init__(self, spec: RecordSpec, feature_names: list[str], estimator: Any, severity: Any) -> None:
        self.spec = spec
        self.feature_names = feature_names
        self.estimator = estimator
        self.severity = severity
        self.layout = _build_layout(spec, feature_names)
        self._fast: Any = None

    def is_for(self, spec: RecordSpec, feature_names: list[str], estimator: Any, severity: Any) -> bool:
        """Whether it was built from these very objects."""
        return (
            self.spec is spec
            and self.feature_names is feature_names
            and self.estimator is estimator
            and self.severity is severity
        )

    def predictors(self) -> tuple[Any, Any, Any] | None:
        """Single-row (risk contributions, risk raw score, severity contributions) predictors.

        The severity slot is None for a model without a severity head. None when LightGBM's single-row
        fast path is unusable (then the boosters' ``predict`` is called on a one-row matrix: same numbers).
        """
        if self._fast is None:
            try:
                from riskscore._fastpredict import PREDICT_CONTRIB, PREDICT_RAW_SCORE, SingleRowPredictor

                est, sev = self.estimator, self.severity
                contrib = SingleRowPredictor(
                    est.booster_, est.best_iteration_, est.n_features_in_, PREDICT_CONTRIB
                )
                raw = SingleRowPredictor(
                    est.booster_, est.best_iteration_, est.n_features_in_, PREDICT_RAW_SCORE
                )
                sev_contrib = (
                    None
                    if sev is None
                    else SingleRowPredictor(
                        sev.booster_, sev.best_iteration_, sev.n_features_in_, PREDICT_CONTRIB
                    )
                )
                self._fast = (contrib, raw, sev_contrib)
            except Exception:  # any problem with LightGBM's C fast path: use Booster.predict
                self._fast = False
        return self._fast if isinstance(self._fast, tuple) else None

    def reasons_one(
        self, record: Mapping[str, Any], values: dict[str, Any], row: list[float], top_k: int
    ) -> list[Reason]:
        """Return the reasons of one record already checked (``RiskModel.record_features``)."""
        layout = self.layout
        X, c, _ = _one_contributions(self, row)
        order = np.argsort(-c[:, :-1], axis=1, kind="stable")
        return _pick_reasons(
            order[0], c[0], X[0], _sentence_record(record, values, layout), self.spec, layout, top_k
        )


def _build_layout(spec: RecordSpec, feature_names: list[str]) -> _Layout:
    names = list(feature_names)
    mapping = feature_fields(spec, names)
    kinds = _kinds(spec).values()
    owners = {out: kind for kind in kinds for out in kind.outputs() if out in names}
    count_of = {
        names.index(out): (names.index(zero), kind)
        for kind in kinds
        for out, zero in kind.unseen_outputs().items()
        if out in names and zero in names
    }
    field_order = [col.name for col in spec.columns if any(col.name in f for f in mapping.values())]
    return _Layout(
        names=names,
        mapping=mapping,
        field_order=field_order,
        pos={f: i for i, f in enumerate(field_order)},
        declared=tuple((c.name, c.type) for c in spec.columns if c.declared),
        source=(spec, feature_names),
        count_of=count_of,
        owners=owners,
        entries=_usable_entries(spec, names),
    )


def _check_additive(c: NDArray[np.float64], raw: Any) -> None:
    if not np.allclose(c.sum(axis=1), raw, rtol=0, atol=1e-6):
        raise AssertionError("TreeSHAP contributions do not add up to the raw model output")


def _field_contributions(c: NDArray[np.float64], layout: _Layout) -> NDArray[np.float64]:
    """Contributions grouped to declared fields: a derived feature's share is split evenly.

    One row is summed on Python floats (ten times faster than numpy on a (1, n) array): the same IEEE
    operations in the same order, so the same bits.
    """
    if len(c) == 1:
        acc = [0.0] * len(layout.field_order)
        row = c[0].tolist()
        for j, name in enumerate(layout.names):
            targets = layout.mapping[name]
            for f in targets:
                acc[layout.pos[f]] += row[j] / len(targets)
        return np.array([acc], dtype=np.float64)
    fields = np.zeros((len(c), len(layout.field_order)))
    for j, name in enumerate(layout.names):
        targets = layout.mapping[name]
        for f in targets:
            fields[:, layout.pos[f]] += c[:, j] / len(targets)
    return fields


def _pick_reasons(
    order: NDArray[np.intp],
    c: NDArray[np.float64],
    x: NDArray[np.float64],
    record: dict[str, Any],
    spec: RecordSpec,
    layout: _Layout,
    top_k: int,
) -> list[Reason]:
    """Return the ``top_k`` strongest risk-raising reasons of one record (``order``: features, strongest first)."""
    names, mapping = layout.names, layout.mapping
    picked: list[Reason] = []
    seen: set[Any] = set()
    for j in order:
        contribution = float(c[j])
        if contribution <= 0 or len(picked) >= top_k:
            break
        name = names[j]
        value = float(x[j]) if np.isfinite(x[j]) else float("nan")
        unseen = layout.count_of.get(int(j))
        if unseen is not None and x[unseen[0]] == 0.0:
            owner = unseen[1]
            code, text = _no_history_sentence(
                _entry_for(layout.entries[name], value, no_history=True), record, spec, owner
            )
            if ("no-history", owner.name) in seen:
                continue  # one "no earlier records" reason per key
            seen.add(("no-history", owner.name))
        else:
            code, text = _sentence(
                _entry_for(layout.entries[name], value),
                name,
                value,
                record,
                spec,
                mapping[name],
                layout.owners.get(name),
            )
        if code in seen:
            continue
        seen.add(code)
        picked.append(Reason(code, text, mapping[name], contribution))
    return picked


def reason_columns(reasons: list[Reason]) -> tuple[str, str]:
    """One record's ``reason_codes`` and ``reasons`` as :meth:`RiskModel.predict` (``explain=True``) gives them."""
    return ";".join(r.code for r in reasons), "\n".join(r.text for r in reasons)


# -- one record, without pandas until the result frames -----------------------------------------------


def _coerced_one(model: RiskModel, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[float]] | None:
    """Return the record's clean values and feature row (as ``predict_one`` makes them), or None for the batch.

    None when ``_coerce_one`` refuses the record (it needs coercion, or the batch path's SchemaError) or
    when it has no record id (the batch path decides how a missing id reads).
    """
    one = model.record_features(record)
    if one is None or one[0].get(model.spec.id_column) is None:
        return None
    return one


def _one_contributions(
    ex: Explainer, row: list[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """One row's feature matrix (1, n), risk contributions (1, n + 1) and raw score (1,), additivity checked."""
    X = np.array([row], dtype=np.float64)
    fast = ex.predictors()
    if fast is None:
        est = ex.estimator
        c = _contrib(est, X, 1)
        raw = np.asarray(
            est.booster_.predict(X, num_iteration=est.best_iteration_, raw_score=True, num_threads=1),
            dtype=np.float64,
        )
    else:
        c = np.array([fast[0].predict_values(row)], dtype=np.float64)
        raw = np.array([fast[1].predict(row)], dtype=np.float64)
    _check_additive(c, raw)
    return X, c, raw


def _sentence_record(record: Mapping[str, Any], values: dict[str, Any], layout: _Layout) -> dict[str, Any]:
    """Return the declared fields as the batch path's ``frame.to_dict("records")`` row holds them.

    Only fields present in ``record`` (the batch frame has no column for an absent one); a missing value
    reads as the batch dtype's: NaT for times, None for flags (pandas "boolean"), NaN otherwise.
    Timestamps in nanoseconds, like ``datetime64[ns]``.
    """
    out: dict[str, Any] = {}
    for name, kind in layout.declared:
        if name not in record:
            continue
        v = values[name]
        if v is None:
            v = pd.NaT if kind == "datetime" else None if kind == "bool" else float("nan")
        elif kind == "datetime" and v.unit != "ns":
            v = v.as_unit("ns")
        out[name] = v
    return out


def _explain_one(
    ex: Explainer,
    record: Mapping[str, Any],
    values: dict[str, Any],
    row: list[float],
    *,
    top_k: int,
    severity: bool,
) -> Explanation:
    """:func:`explain` of one record already coerced (see :func:`_coerced_one`), without the batch path."""
    layout = ex.layout
    X, c, raw = _one_contributions(ex, row)
    order = np.argsort(-c[:, :-1], axis=1, kind="stable")
    reasons = [
        _pick_reasons(order[0], c[0], X[0], _sentence_record(record, values, layout), ex.spec, layout, top_k)
    ]
    severity_contrib = None
    if severity and ex.severity is not None:
        fast = ex.predictors()
        s = (
            _contrib(ex.severity, X, 1)
            if fast is None or fast[2] is None
            else np.array([fast[2].predict_values(row)], dtype=np.float64)
        )
        severity_contrib = pd.DataFrame(s[:, :-1], columns=layout.names)
    spec = ex.spec
    return Explanation(
        record_ids=pd.Series([str(values[spec.id_column])], name=spec.id_column, dtype=str),
        contributions=pd.DataFrame(c[:, :-1], columns=layout.names),
        base_value=c[:, -1].copy(),
        raw=raw,
        fields=pd.DataFrame(_field_contributions(c, layout), columns=layout.field_order),
        values=pd.DataFrame(X, columns=layout.names),
        reasons=reasons,
        severity=severity_contrib,
    )


# -- the public entry point ---------------------------------------------------------------------------


def check_top_k(top_k: object) -> int:
    """Return ``top_k`` as an int, or raise ParameterError: a count of reasons must be a whole number >= 1.

    ``0`` or a negative number would silently return no reasons, and ``"3"`` would fail deep inside.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ParameterError(
            f"top_k must be a whole number of reasons >= 1; got {top_k!r}. Pass e.g. top_k=3."
        )
    return int(top_k)


#: Rows explained at a time when a progress bar is shown (TreeSHAP takes about a millisecond per record
#: with the shipped models, so a chunk is seconds: the bar moves, and the chunking costs nothing measurable).
EXPLAIN_CHUNK_ROWS = 10_000


def explain(
    model: RiskModel,
    records: Any,
    *,
    top_k: int = 5,
    severity: bool = False,
    num_threads: int | None = None,
    progress: bool | None = None,
) -> Explanation:
    """Explain the risk of each record (see :class:`Explanation`).

    One record given as a dict takes a pandas-free path (LightGBM's single-row prediction on the feature
    row of ``RiskModel.predict_one``) with exactly the batch path's result; a dict that needs coercion or
    is refused takes the batch path, so its answer or SchemaError is the batch path's.

    Parameters
    ----------
    model
        The RiskModel.
    records
        DataFrame, list of dicts or one dict.
    top_k
        Reasons per record.
    severity
        Also compute contributions to the severity log-odds (why red rather than yellow).
    num_threads
        LightGBM threads; default 1 below 1,000 records, else 2. One record as a dict always uses one.
    progress
        Show a progress bar (records explained, out of all): True, False, or None for "only when standard
        error is a terminal". With a bar, records are explained in chunks of :data:`EXPLAIN_CHUNK_ROWS`;
        the result is the same, bit for bit, since each record's explanation depends on it alone.

    Returns
    -------
    Explanation
        With the spec's field labels in ``labels``.

    Raises
    ------
    SchemaError
        A required column is missing or a value is impossible.
    AssertionError
        If the contributions do not add up to the model's raw output (they always should).
    ParameterError
        If ``top_k`` is not a whole number >= 1, or ``progress`` is not True, False or None.

    Examples
    --------
    >>> import riskscore
    >>> from riskscore.synthetic import generate_shipments
    >>> ex = explain(riskscore.load("shipment"), generate_shipments(100, seed=2), top_k=3, progress=False)
    >>> len(ex.reasons), bool(np.allclose(ex.base_value + ex.fields.sum(axis=1), ex.raw))
    (100, True)
    """
    from riskscore._progress import progress_bar, wants_progress

    top_k = check_top_k(top_k)
    show = wants_progress(progress)
    if isinstance(records, Mapping):
        one = _coerced_one(model, records)
        if one is not None:
            return _labelled(
                _explain_one(model.explainer(), records, *one, top_k=top_k, severity=severity), model
            )
    frame = model.validate(records)
    threads = num_threads or (1 if len(frame) < 1_000 else 2)
    X = model.features.transform(frame)
    if not show:
        return _labelled(
            explain_frame(model, frame, X, top_k=top_k, severity=severity, num_threads=threads), model
        )
    parts: list[Explanation] = []
    with progress_bar(True, total=len(frame), desc="explain", unit="records") as bar:
        for lo in range(0, max(len(frame), 1), EXPLAIN_CHUNK_ROWS):
            hi = min(lo + EXPLAIN_CHUNK_ROWS, len(frame))
            parts.append(
                explain_frame(
                    model, frame.iloc[lo:hi], X[lo:hi], top_k=top_k, severity=severity, num_threads=threads
                )
            )
            bar.update(hi - lo)
    return _labelled(_joined(parts), model)


def _labelled(ex: Explanation, model: RiskModel) -> Explanation:
    """Return ``ex`` carrying the display labels of its declared fields (from the model's spec)."""
    display = {c.name: c.display for c in model.spec.columns}
    ex.labels = {name: display.get(name, name) for name in map(str, ex.fields.columns)}
    return ex


def _joined(parts: list[Explanation]) -> Explanation:
    """Return the explanation of consecutive chunks of records, in order, as one."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]

    def frames(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    return Explanation(
        record_ids=pd.concat([p.record_ids for p in parts], ignore_index=True),
        contributions=frames("contributions"),
        base_value=np.concatenate([p.base_value for p in parts]),
        raw=np.concatenate([p.raw for p in parts]),
        fields=frames("fields"),
        values=frames("values"),
        reasons=[rs for p in parts for rs in p.reasons],
        severity=None if first.severity is None else frames("severity"),
    )


def explain_frame(
    model: RiskModel,
    frame: pd.DataFrame,
    X: NDArray[np.float64],
    *,
    top_k: int = 5,
    severity: bool = False,
    num_threads: int = 1,
) -> Explanation:
    """:func:`explain` of records already validated (``frame``) whose features ``X`` are already built.

    For callers that have both at hand (``RiskModel.predict(..., explain=True)``): no second validation,
    no second feature pass.
    """
    ex = model.explainer()
    spec, threads = ex.spec, num_threads
    layout = ex.layout
    names = layout.names
    est = ex.estimator
    c = _contrib(est, X, threads) if len(X) else np.zeros((0, len(names) + 1))
    raw = (
        est.booster_.predict(X, num_iteration=est.best_iteration_, raw_score=True, num_threads=threads)
        if len(X)
        else np.zeros(0)
    )
    _check_additive(c, raw)
    contributions = pd.DataFrame(c[:, :-1], columns=names)
    fields = _field_contributions(c, layout)
    records_list: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    order = np.argsort(-c[:, :-1], axis=1, kind="stable")
    reasons = [
        _pick_reasons(order[i], c[i], X[i], records_list[i], spec, layout, top_k) for i in range(len(frame))
    ]
    severity_contrib = None
    if severity and ex.severity is not None and len(X):
        s = _contrib(ex.severity, X, threads)
        severity_contrib = pd.DataFrame(s[:, :-1], columns=names)
    return Explanation(
        record_ids=frame[spec.id_column].astype(str).reset_index(drop=True),
        contributions=contributions,
        base_value=c[:, -1].copy(),
        raw=np.asarray(raw, dtype=np.float64),
        fields=pd.DataFrame(fields, columns=layout.field_order),
        values=pd.DataFrame(X, columns=names),
        reasons=reasons,
        severity=severity_contrib,
    )


def global_importance(explanation: Explanation) -> pd.Series:
    """Mean absolute contribution per declared field over a batch, largest first."""
    return explanation.fields.abs().mean().sort_values(ascending=False)
