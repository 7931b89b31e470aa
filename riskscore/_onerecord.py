"""The one-record checks of a spec, compiled: straight-line code over one dict, per spec.

``RiskModel.predict_one`` must answer one declaration in well under a millisecond and give exactly what
the batch path gives. ``compile_checker`` generates the record checks once per model (column names,
bounds and tables passed in as constants, never written into the source); anything unusual (a value to
coerce or to refuse) is handed to the batch path, so its answer or its SchemaError is the batch path's.
The features of the record come from the kinds' one-record steps (``riskscore.features.plan``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskscore._scalar import interp_one

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.spec import RecordSpec

__all__ = ["OneRecord", "compile_checker", "utf8_ok"]

# -- the record checks, generated ------------------------------------------------------------------------

_REFUSE = object()  # a value the one-record path does not take (the batch path coerces or refuses it)
_NAN_NUMBER = object()  # a numpy floating NaN: missing


def _number(v: Any) -> Any:
    """Return a non-``float`` number as float; _REFUSE for anything else; _NAN_NUMBER for a numpy NaN."""
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        return _REFUSE
    if isinstance(v, np.floating) and v != v:
        return _NAN_NUMBER
    try:
        return float(v)
    except OverflowError:  # an int beyond float range: the batch path refuses it by name
        return _REFUSE


def utf8_ok(text: str) -> bool:
    """Whether a str can be stored as UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_TS_MIN, _TS_MAX = pd.Timestamp.min, pd.Timestamp.max


# The text times the one-record path parses itself: plain ISO 8601 dates and naive times, which pandas'
# ISO 8601 parser in the batch path reads the same way. Anything else (offsets, other layouts, relative
# words) takes the batch path, which parses or refuses it.
_PLAIN_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
).fullmatch


def _timestamp(v: Any) -> pd.Timestamp | None:
    """Return a naive time in pandas' nanosecond range as a Timestamp, else None (the batch path decides)."""
    if type(v) is pd.Timestamp:
        ts = v
    elif isinstance(v, str):
        if _PLAIN_ISO(v) is None:
            return None
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            return None
    elif isinstance(v, dt.datetime | np.datetime64):
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            return None
    else:
        return None
    if ts is pd.NaT or ts.tzinfo is not None or not (_TS_MIN <= ts <= _TS_MAX):
        return None
    return ts


Checker = Callable[[Mapping[str, Any], "list[float] | None"], "dict[str, Any] | None"]


def compile_checker(
    spec: RecordSpec, slots: dict[str, tuple[int, dict[str, float] | None, float]]
) -> Checker:
    """Generate the one-record check of a spec as one straight-line Python function.

    The function takes a record (a mapping) and optionally a feature row to fill (``FeaturePlan.blank()``);
    it returns the clean values - floats/ints for numbers, bool for flags, str for text, Timestamp for
    times, None for missing - or None when anything needs the batch path (a value to coerce or to refuse
    with the SchemaError naming column, row and fix). Columns used as features as they are get written
    into the row on the way (``slots``: position, category codes, unseen code).

    Generated rather than looped over the columns because it runs for every declaration lodged: the
    straight-line form has no per-column dispatch. Column names, bounds and tables are passed in as
    constants, never written into the source, so a spec cannot inject code.
    """
    consts: dict[str, Any] = {
        "_ABSENT": _REFUSE,
        "_REFUSE": _REFUSE,
        "_NAN_NUMBER": _NAN_NUMBER,
        "_number": _number,
        "_utf8": utf8_ok,
        "_timestamp": _timestamp,
        "_bool_types": (bool, np.bool_),
    }
    lines = ["def check(record, out):", "    get = record.get", "    values = {}"]
    for i, col in enumerate(c for c in spec.columns if c.declared):
        name = f"N{i}"
        consts[name] = col.name
        j, codes, unseen = slots.get(col.name, (-1, None, 0.0))
        write = j >= 0
        lines.append(f"    v = get({name}, _ABSENT)")
        lines.append("    if v is _ABSENT:")
        lines.append("        return None" if col.required else "        v = None")
        lines.append("    if v is None or (type(v) is float and v != v):")
        lines.append(f"        values[{name}] = None" if col.nullable else "        return None")
        lines.append("    else:")
        body: list[str] = []
        if col.type in ("float", "int"):
            body += [
                "if type(v) is float:",
                "    f = v",
                "else:",
                "    f = _number(v)",
                "    if f is _REFUSE:",
                "        return None",
                "if f is _NAN_NUMBER:",
                f"    values[{name}] = None" if col.nullable else "    return None",
                "else:",
            ]
            cond = "f - f != 0.0"  # inf - inf is nan: infinities go to the batch path
            if col.min is not None:
                consts[f"LO{i}"] = float(col.min)
                cond += f" or f < LO{i}"
            if col.max is not None:
                consts[f"HI{i}"] = float(col.max)
                cond += f" or f > HI{i}"
            body += [f"    if {cond}:", "        return None"]
            if col.type == "int":
                body += [
                    "    if f != int(f) or abs(f) >= 9007199254740992.0:",  # 2**53
                    "        return None",
                    f"    values[{name}] = int(f)",
                ]
            else:
                body.append(f"    values[{name}] = f")
            if write:
                body += ["    if out is not None:", f"        out[{j}] = f"]
        elif col.type in ("category", "string"):
            body += ["if type(v) is not str or not (v.isascii() or _utf8(v)):", "    return None"]
            for step in col.normalize or ():  # the same steps as the batch path's pandas .str methods
                body.append(f"v = v.{step}()")
            if col.values is not None and not col.open:
                consts[f"CLOSED{i}"] = frozenset(col.values)
                body += [f"if v not in CLOSED{i}:", "    return None"]
            if col.pattern is not None:
                consts[f"PAT{i}"] = re.compile(col.pattern).fullmatch
                body += [f"if PAT{i}(v) is None:", "    return None"]
            body.append(f"values[{name}] = v")
            if write:
                consts[f"CODES{i}"], consts[f"UNSEEN{i}"] = codes, unseen
                body += ["if out is not None:", f"    out[{j}] = CODES{i}.get(v, UNSEEN{i})"]
        elif col.type == "bool":
            body += ["if not isinstance(v, _bool_types):", "    return None", f"values[{name}] = b = bool(v)"]
            if write:
                body += ["if out is not None:", f"    out[{j}] = float(b)"]
        elif col.type == "datetime":
            if col.format is not None:  # text in the column's own layout: the batch path parses it
                body += ["if type(v) is str:", "    return None"]
            body += ["ts = _timestamp(v)", "if ts is None:", "    return None", f"values[{name}] = ts"]
            if write:  # pragma: no cover - no built-in spec uses a time as a raw feature
                body += ["if out is not None:", f"    out[{j}] = float(ts.value)"]
        else:  # pragma: no cover - the spec validates types
            raise ValueError(f"column {col.name!r}: type {col.type!r} has no one-record check")
        lines += ["        " + line for line in body]
    lines.append("    return values")
    namespace = dict(consts)
    exec(compile("\n".join(lines), f"<riskscore checks for spec {spec.name!r}>", "exec"), namespace)
    check: Checker = namespace["check"]
    return check


class OneRecord:
    """Everything the one-record path of a model needs, built once: checks, feature plan, predictors, knots.

    ``RiskModel`` owns one (``RiskModel._one_record()``), rebuilds it when any part it was built from is
    replaced (a refitted policy or estimator, an extended history) and drops it when pickled: it holds
    compiled code and LightGBM C handles.
    """

    def __init__(
        self,
        spec: RecordSpec,
        features: Any,
        estimator: Any,
        severity: Any,
        severity_prior: float,
        calibration: tuple[Any, Any],
    ) -> None:
        from riskscore._fastpredict import SingleRowPredictor

        self.source = (spec, features, features.plan(), estimator, severity, calibration)
        self.plan = features.plan()
        self.checks = compile_checker(spec, self.plan.input_slots())
        self.id_column = spec.id_column
        self.text_columns = frozenset(c.name for c in spec.columns if c.type in ("category", "string"))
        self.severity_prior = float(severity_prior)
        self.knots = (calibration[0].tolist(), calibration[1].tolist())
        self.estimator, self.severity = estimator, severity
        try:
            risk = SingleRowPredictor(estimator.booster_, estimator.best_iteration_, estimator.n_features_in_)
            sev = (
                None
                if severity is None
                else SingleRowPredictor(severity.booster_, severity.best_iteration_, severity.n_features_in_)
            )
            self.predictors: tuple[Any, Any] | None = (risk, sev)
        except Exception:  # any problem with LightGBM's C fast path: the boosters' predict, same numbers
            self.predictors = None

    def is_for(
        self, spec: RecordSpec, features: Any, estimator: Any, severity: Any, calibration: Any
    ) -> bool:
        """Whether it was built from these very objects (and the features' current plan)."""
        s = self.source
        return (
            s[0] is spec
            and s[1] is features
            and s[2] is features.plan()
            and s[3] is estimator
            and s[4] is severity
            and s[5] is calibration
        )

    def values_and_features(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[float]] | None:
        """One record's clean values and feature row, without pandas; None when it needs the batch path."""
        out = self.plan.blank()
        values = self.checks(record, out)
        return None if values is None else (values, self.plan.finish(values, out))

    def probabilities(self, row: list[float]) -> tuple[float, float, float, float]:
        """(p_green, p_yellow, p_red, risk score) of one feature row: the batch ``_combine`` on floats."""
        if self.predictors is None:
            X = np.array([row], dtype=np.float64)
            est, sev_est = self.estimator, self.severity
            raw = float(est.booster_.predict(X, num_iteration=est.best_iteration_, num_threads=1)[0])
            sev = (
                self.severity_prior
                if sev_est is None
                else float(
                    sev_est.booster_.predict(X, num_iteration=sev_est.best_iteration_, num_threads=1)[0]
                )
            )
        else:
            risk_p, sev_p = self.predictors
            if sev_p is not None:
                raw, sev = risk_p.predict_pair(sev_p, row)
            else:
                raw, sev = risk_p.predict(row), self.severity_prior
        knots = self.knots
        score = interp_one(raw, *knots) if knots[0] else raw
        return 1.0 - raw, raw * (1.0 - sev), raw * sev, score
