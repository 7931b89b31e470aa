"""Why a record was flagged: TreeSHAP contributions, grouped to declared fields, turned into reason codes.

Contributions come from LightGBM's own TreeSHAP (``pred_contrib=True``): per record, one value per model
feature plus the base value, adding up exactly to the risk model's raw output (the log-odds that an
inspection finds a violation). Derived features are attributed back to the declared fields they are
computed from, so an officer reads "declared value" or "importer", never an internal feature name.
Reason sentences come from one versioned table (``riskscore/reasons.toml``) and quote the record's own
values.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore.spec import RecordSpec

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.model import ChannelModel, RiskModel

__all__ = ["REASONS_VERSION", "Explanation", "Reason", "explain", "feature_fields", "global_importance"]


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


def feature_fields(spec: RecordSpec, feature_names: list[str]) -> dict[str, tuple[str, ...]]:
    """Map each model feature to the declared fields it comes from.

    Raw features map to themselves; derived features to the declared columns they are computed from
    (a reference deviation to its value's columns, not to the grouping columns that define the
    comparison; a history feature to its entity columns; the calendar to the timestamp).
    """
    derived = {f.name: f for f in spec.features}
    columns = {c.name for c in spec.columns}

    def resolve(name: str) -> tuple[str, ...]:
        if name in columns:
            return (name,)
        feat = derived[name]
        if feat.kind == "reference":
            return resolve(feat.inputs[0])
        if feat.kind == "group_max_gap":
            return (feat.key.split(":")[0],)
        out: list[str] = []
        for i in feat.inputs:
            out.extend(x for x in resolve(i) if x not in out)
        return tuple(out)

    mapping: dict[str, tuple[str, ...]] = {}
    for name in feature_names:
        if name in columns or name in derived:
            mapping[name] = resolve(name)
            continue
        owner = max((f for f in derived if name.startswith(f + "_")), key=len, default=None)
        mapping[name] = resolve(owner) if owner else (name,)
    return mapping


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


def _sentence(
    entry: dict[str, str] | None,
    feature: str,
    value: float,
    record: dict[str, Any],
    spec: RecordSpec,
    fields: tuple[str, ...],
) -> tuple[str, str]:
    if entry is None:
        # No sentence in the table: name the declared fields behind the feature with the record's values,
        # never the internal feature name.
        cols = [f for f in fields if f in {c.name for c in spec.columns}] or [feature]
        labels = [(spec.column(c).description or c) if c != feature else c.replace("_", " ") for c in cols]
        shown = [_fmt(record.get(c)) if c != feature else _fmt(value) for c in cols]
        return f"FEATURE_{feature.upper()}", f"{' / '.join(labels)}: {' / '.join(shown)}"
    values = _Values(record)
    finite = value is not None and np.isfinite(value)
    values["value"] = _fmt(value)
    values["value_int"] = _fmt(round(value)) if finite else "unknown"
    values["pct"] = f"{round(abs(math.expm1(value)) * 100):,}" if finite and abs(value) < 50 else "?"
    values["rate"] = f"{value * 100:.1f}" if finite else "?"
    values["value_pct"] = f"{value * 100:.1f}" if finite else "?"
    values["value_pct_plus"] = f"{value * 100:.0f}" if finite else "?"
    if "duty_rate" in record:
        duty = record["duty_rate"]
        values["duty_rate_pct"] = f"{float(duty) * 100:.0f}" if duty is not None and duty == duty else "?"
    return entry["code"], entry["text"].format_map(values)


def _entry_for(feature: str, value: float) -> dict[str, str] | None:
    entries = _reason_table()[1].get(feature, [])
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
    """

    record_ids: pd.Series
    contributions: pd.DataFrame
    base_value: NDArray[np.float64]
    raw: NDArray[np.float64]
    fields: pd.DataFrame
    values: pd.DataFrame
    reasons: list[list[Reason]]
    severity: pd.DataFrame | None = None

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


def explain(
    model: RiskModel, records: Any, *, top_k: int = 5, severity: bool = False, num_threads: int | None = None
) -> Explanation:
    """Explain the risk of each record (see :class:`Explanation`).

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
        LightGBM threads; default 1 below 1,000 records, else 2.

    Raises
    ------
    AssertionError
        If the contributions do not add up to the model's raw output (they always should).
    """
    spec = model.spec
    frame = model._validated(records)
    threads = num_threads or (1 if len(frame) < 1_000 else 2)
    X = model.features.transform(frame)
    names = model.features.feature_names_
    est = model.estimator
    c = _contrib(est, X, threads) if len(X) else np.zeros((0, len(names) + 1))
    raw = (
        est.booster_.predict(X, num_iteration=est.best_iteration_, raw_score=True, num_threads=threads)
        if len(X)
        else np.zeros(0)
    )
    if not np.allclose(c.sum(axis=1), raw, rtol=0, atol=1e-6):
        raise AssertionError("TreeSHAP contributions do not add up to the raw model output")
    contributions = pd.DataFrame(c[:, :-1], columns=names)
    mapping = feature_fields(spec, names)
    field_order = [col.name for col in spec.columns if any(col.name in f for f in mapping.values())]
    fields = np.zeros((len(frame), len(field_order)))
    pos = {f: i for i, f in enumerate(field_order)}
    for j, name in enumerate(names):
        targets = mapping[name]
        for f in targets:
            fields[:, pos[f]] += c[:, j] / len(targets)
    records_list: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    reasons: list[list[Reason]] = []
    order = np.argsort(-c[:, :-1], axis=1, kind="stable")
    for i in range(len(frame)):
        picked: list[Reason] = []
        seen: set[str] = set()
        for j in order[i]:
            contribution = float(c[i, j])
            if contribution <= 0 or len(picked) >= top_k:
                break
            name = names[j]
            value = float(X[i, j]) if np.isfinite(X[i, j]) else float("nan")
            code, text = _sentence(_entry_for(name, value), name, value, records_list[i], spec, mapping[name])
            if code in seen:
                continue
            seen.add(code)
            picked.append(Reason(code, text, mapping[name], contribution))
        reasons.append(picked)
    severity_contrib = None
    if severity and model.severity is not None and len(X):
        s = _contrib(model.severity, X, threads)
        severity_contrib = pd.DataFrame(s[:, :-1], columns=names)
    return Explanation(
        record_ids=frame[spec.id_column].astype(str).reset_index(drop=True),
        contributions=contributions,
        base_value=c[:, -1].copy(),
        raw=np.asarray(raw, dtype=np.float64),
        fields=pd.DataFrame(fields, columns=field_order),
        values=pd.DataFrame(X, columns=names),
        reasons=reasons,
        severity=severity_contrib,
    )


def global_importance(explanation: Explanation) -> pd.Series:
    """Mean absolute contribution per declared field over a batch, largest first."""
    return explanation.fields.abs().mean().sort_values(ascending=False)
