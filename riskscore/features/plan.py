"""The features of one record without pandas: the kinds' one-record steps, assembled and compiled once.

``RiskModel.predict_one`` must answer one declaration in well under a millisecond and give exactly what
the batch path gives. Each feature kind writes the lines that compute its outputs for one record
(:meth:`FeatureKind.emit`); :class:`FeaturePlan` assembles them, in spec order, into one straight-line
Python function over a dict, with column names and tables passed in as constants (never written into the
source). Key hashes are computed once per record, the way the batch path's ``hash_key`` does
(``riskscore._hashing``). Nothing here decides anything the batch path does not: tests hold the two
equal bit for bit, on the built-in specs and on random specs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from riskscore._hashing import M64, MISSING, MIX, split_key, text_hasher
from riskscore._scalar import NS_PER_DAY, NS_PER_HOUR, ns_of, scalar_log
from riskscore.features._common import EPS

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.features.builder import FeatureBuilder

__all__ = ["FeaturePlan", "PlanWriter"]

_NAN = float("nan")


class PlanWriter:
    """What a kind's :meth:`~riskscore.features.base.FeatureKind.emit` may use to write its lines.

    The generated function has ``record`` (the dict), ``get`` (``record.get``), ``out`` (the feature row),
    ``ns`` and ``day`` (the record time in nanoseconds and days) and the constants registered here.
    """

    def __init__(self, names: list[str], time_column: str) -> None:
        self.pos = {n: i for i, n in enumerate(names)}
        self.time_column = time_column
        self.derived: dict[str, str] = {}  # feature name -> local variable holding its value
        self.consts: dict[str, Any] = {
            "NAN": _NAN,
            "INF": math.inf,
            "EPS": EPS,
            "LN": scalar_log(),
            "HASH": text_hasher(),
            "MISSING": int(MISSING),
            "MIX": int(MIX),
            "M64": M64,
            "NS": ns_of,
            "NS_DAY": NS_PER_DAY,
            "NS_HOUR": NS_PER_HOUR,
            "TIME": time_column,
        }
        self.parts: list[tuple[str, int | None]] = []  # distinct (column, prefix length) hashed per record
        self.levels: list[tuple[tuple[str, int | None], ...]] = []  # distinct keys, as parts

    def const(self, name: str, value: Any) -> str:
        """Register a constant for the generated code and return its name."""
        self.consts[name] = value
        return name

    def key(self, columns: tuple[str, ...]) -> str:
        """Return the local variable holding the hashed key of these columns (e.g. ``("hs_code:4",)``)."""
        level = []
        for col in columns:
            part = split_key(col)
            if part not in self.parts:
                self.parts.append(part)
            level.append(part)
        if tuple(level) not in self.levels:
            self.levels.append(tuple(level))
        return f"k{self.levels.index(tuple(level))}"

    def number(self, name: str, i: int, var: str) -> list[str]:
        """Lines putting input ``name`` (a derived feature's value, or a declared number) in ``var``."""
        if name in self.derived:
            return [f"{var} = {self.derived[name]}"]
        self.consts[f"IN{i}_{var}"] = name
        return [f"x = get(IN{i}_{var})", f"{var} = NAN if x is None else float(x)"]

    def store(self, name: str, i: int) -> list[str]:
        """Lines keeping the value ``v`` of single-valued feature ``i`` (for later features, and in ``out``)."""
        self.derived[name] = f"d{i}"
        j = self.pos.get(name)
        return [f"d{i} = v"] + ([] if j is None else [f"out[{j}] = v"])

    def head(self) -> list[str]:
        """Return the function's first lines: record time, and each key part hashed as the batch path does."""
        lines = [
            "def finish(record, out):",
            "    get = record.get",
            "    ns = NS(record[TIME])",
            "    day = ns // NS_DAY",
        ]
        for i, (name, cut) in enumerate(self.parts):  # as hash_key: text, prefix, hash
            self.consts[f"PART{i}"] = name
            text = "(v if type(v) is str else str(v))" + (f"[:{int(cut)}]" if cut else "")
            lines += [f"    v = get(PART{i})", f"    p{i} = MISSING if v is None else HASH({text})"]
        index = {part: i for i, part in enumerate(self.parts)}
        for k, level in enumerate(self.levels):
            expr = f"p{index[level[0]]}"
            for part in level[1:]:
                expr = f"({expr} * MIX + p{index[part]}) & M64"
            lines.append(f"    k{k} = {expr}")
        return lines


class FeaturePlan:
    """The features of one record, as :meth:`FeatureBuilder.transform` computes them, without pandas.

    Built once per fitted builder (``FeatureBuilder._plan()``). Thread-safe: the function only reads
    shared tables; memo tables (text hashes, history values) are dicts whose single operations are atomic.
    """

    def __init__(self, fb: FeatureBuilder) -> None:
        spec = fb.record_spec
        self.names: list[str] = list(fb.feature_names_)
        self.time_column: str = spec.time_column
        w = PlanWriter(self.names, self.time_column)
        self._categories = [
            (name, w.pos[name], {v: float(i) for i, v in enumerate(kept)}, float(len(kept)))
            for name, kept in fb.categorical_.items()
        ]
        self._raw_numbers = [(name, w.pos[name]) for name in fb.raw_numeric_]
        settings = fb.settings()
        body: list[str] = []
        for i, kind in enumerate(fb.kinds()):
            body += kind.emit(w, i, fb.states_.get(kind.name), settings)
        lines = w.head() + ["    " + line for line in body] + ["    return out"]
        self.source = "\n".join(lines)  # the generated code, for reading (constants are in consts)
        namespace = dict(w.consts)
        exec(compile(self.source, f"<riskscore features for spec {spec.name!r}>", "exec"), namespace)
        self._finish: Callable[[dict[str, Any], list[float]], list[float]] = namespace["finish"]

    def input_slots(self) -> dict[str, tuple[int, dict[str, float] | None, float]]:
        """Per declared column used as a feature as it is: (position, category codes or None, unseen code).

        A caller that checks the record column by column (``compile_checker``) writes these positions as it
        goes - the number itself, or the category's code (one past the kept codes when unseen) - and then
        calls :meth:`finish`; :meth:`row` does both for already-coerced values.
        """
        slots: dict[str, tuple[int, dict[str, float] | None, float]] = {
            name: (j, codes, unseen) for name, j, codes, unseen in self._categories
        }
        slots.update({name: (j, None, 0.0) for name, j in self._raw_numbers})
        return slots

    def blank(self) -> list[float]:
        """Return a row of NaN (missing) to fill."""
        return [_NAN] * len(self.names)

    def row(self, record: dict[str, Any]) -> list[float]:
        """Feature values of one record of coerced values, in ``names`` order."""
        out = self.blank()
        for name, j, codes, unseen in self._categories:  # category codes; unseen -> one code past the kept
            value = record.get(name)
            if value is not None:
                out[j] = codes.get(str(value), unseen)
        for name, j in self._raw_numbers:
            value = record.get(name)
            if value is not None:
                out[j] = float(value)
        return self.finish(record, out)

    def finish(self, record: dict[str, Any], out: list[float]) -> list[float]:
        """Add the derived features to ``out``, whose input slots are filled; returns ``out``."""
        return self._finish(record, out)
