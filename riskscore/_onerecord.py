"""The one-record path, compiled: a spec's checks and a fitted builder's features as generated code.

``RiskModel.predict_one`` must answer one declaration in well under a millisecond and give exactly what
the batch path gives. The batch code interprets the spec column by column over arrays; here the same
work is generated once per model as straight-line Python over one dict (column names, bounds and tables
passed in as constants, never written into the source):

- ``compile_checker``: the record checks; anything unusual (a value to coerce or to refuse) is handed to
  the batch path, so its answer or its SchemaError is the batch path's;
- ``FeaturePlan``: the derived features. Text keys are hashed exactly as pandas'
  ``hash_array(..., categorize=False)`` does (SipHash-2-4 then the same 64-bit mixing), memoised per text,
  and combined per key as the batch ``_hash_key`` does; reference tables become ``{key: (count, mean)}``
  dicts; history tables stay numpy arrays (they can hold millions of rows), searched per entity and
  memoised per (entity, day);
- IEEE arithmetic on Python floats rounds exactly as numpy's float64 does for + - * /; logarithms use
  ``math.log`` only where it equals numpy's on the machine (``scalar_log``), and ``interp_one`` is numpy's
  ``interp`` formula.

Nothing here decides anything the batch path does not: tests hold predict_one to predict, bit for bit.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.features import FeatureBuilder
    from riskscore.spec import RecordSpec

__all__ = ["FeaturePlan", "compile_checker", "interp_one", "scalar_log", "text_hasher"]

_M64 = 0xFFFFFFFFFFFFFFFF
_NAN = float("nan")
_NS_PER_DAY = 86_400_000_000_000
_NS_PER_HOUR = 3_600_000_000_000
_CACHE_LIMIT = 200_000  # memoised text hashes (a few tens of MB at most)
_MEMO_LIMIT = 50_000  # memoised history values per feature: (entity, day) -> a few floats
_PANDAS_KEY = "0123456789123456"  # pandas' default hash key


def _mix(v: int) -> int:
    """Mix a hash as pandas does last (64-bit of a hash ; core/util/hashing.py), on Python ints."""
    v ^= v >> 30
    v = (v * 0xBF58476D1CE4E5B9) & _M64
    v ^= v >> 27
    v = (v * 0x94D049BB133111EB) & _M64
    return v ^ (v >> 31)


def text_hasher(hash_key: str = _PANDAS_KEY, *, memo: bool = True) -> Callable[[str], int]:
    """Return a function: text -> the uint64 (as int) ``pd.util.hash_array`` gives it (memoised if ``memo``).

    Uses pandas' compiled SipHash directly (no array checks, no numpy mixing); checked against the public
    function on sample texts when built, and replaced by the public function if pandas ever differs.
    """
    cache: dict[str, int] = {}

    def public(text: str) -> int:
        arr = np.array([text], dtype=object)
        return int(pd.util.hash_array(arr, hash_key=hash_key, categorize=False)[0])

    raw: Callable[[str], int] = public
    try:
        from pandas._libs.hashing import hash_object_array

        def direct(text: str) -> int:
            return _mix(int(hash_object_array(np.array([text], dtype=object), hash_key, "utf8")[0]))

        samples = ["", "CN", "IMP000123", "8517", "é☃ 🚢", "x" * 300]
        if all(direct(s) == public(s) for s in samples):
            raw = direct
    except Exception:  # pragma: no cover - a pandas without the private entry point
        raw = public

    if not memo:
        return raw

    def hasher(text: str) -> int:
        h = cache.get(text)
        if h is None:
            h = raw(text)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[text] = h
        return h

    return hasher


@functools.cache
def scalar_log() -> Callable[[float], float]:
    """``math.log`` if it gives numpy's ``log`` bit for bit on this machine, else numpy's log of one float.

    numpy's array log is the C library's on most machines but its own vectorised code on some CPUs
    (AVX-512); the batch path uses numpy's, so the one-record path may use the 20x cheaper ``math.log``
    only where the two agree: checked once on 200,000 values spanning the range of ratios and amounts.
    """
    rng = np.random.default_rng(20251123)
    x = np.concatenate([np.exp(rng.uniform(-60.0, 60.0, 150_000)), rng.uniform(0.25, 4.0, 50_000)])
    if np.array_equal(np.log(x), np.array([math.log(v) for v in x.tolist()])):
        return math.log

    def numpy_log(v: float) -> float:
        return float(np.log(np.float64(v)))

    return numpy_log  # pragma: no cover - machines where numpy's vectorised log differs


def _ns(value: Any) -> int:
    """Nanoseconds since the epoch of a coerced time value (``pandas.Timestamp`` or ``numpy.datetime64``)."""
    if isinstance(value, pd.Timestamp):
        return int(value.value)  # always nanoseconds, whatever the Timestamp's unit
    return int(np.datetime64(value, "ns").astype(np.int64))


def interp_one(x: float, xp: list[float], fp: list[float]) -> float:
    """``numpy.interp`` for one float, with numpy's own formula and edge handling (compiled_base.c)."""
    n = len(xp)
    if n == 1:  # numpy's one-knot branch: every x, NaN included, maps to the knot's value
        return fp[0]
    if x != x:
        return x
    j = bisect.bisect_right(xp, x) - 1
    if j < 0:
        return fp[0]
    if j >= n - 1:
        return fp[n - 1]
    if xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    res = slope * (x - xp[j]) + fp[j]
    if res != res:
        res = slope * (x - xp[j + 1]) + fp[j + 1]
        if res != res and fp[j] == fp[j + 1]:
            res = fp[j]
    return res


class FeaturePlan:
    """The features of one record, as :meth:`FeatureBuilder.transform` computes them, without pandas.

    Built once per fitted builder (``FeatureBuilder._plan()``): the spec's derived features are laid out
    as one generated straight-line function (``finish``) over the fitted tables, in spec order - the key
    hashes of the record first, then each feature with its constants. Column names and tables are passed
    in as constants, never written into the source. Thread-safe: the function only reads shared tables;
    the memo tables (text hashes, history values) are dicts whose single operations are atomic.
    """

    def __init__(self, fb: FeatureBuilder) -> None:
        from riskscore.features import _EPS, _MISSING, _MIX
        from riskscore.spec import RecordSpec

        spec = fb.spec
        assert isinstance(spec, RecordSpec)
        self.names: list[str] = list(fb.feature_names_)
        self._pos = {n: i for i, n in enumerate(self.names)}
        self.time_column: str = spec.time_column
        self._parts: list[tuple[str, int | None]] = []  # distinct (column, prefix length) hashed per record
        self._levels: list[tuple[tuple[str, int | None], ...]] = []  # distinct keys, as parts
        self._categories = [
            (name, self._pos[name], {v: float(i) for i, v in enumerate(kept)}, float(len(kept)))
            for name, kept in fb.categorical_.items()
        ]
        self._raw_numbers = [(name, self._pos[name]) for name in fb.raw_numeric_]
        self._consts: dict[str, Any] = {
            "NAN": _NAN,
            "INF": math.inf,
            "EPS": _EPS,
            "LN": scalar_log(),
            "HASH": text_hasher(),
            "MISSING": int(_MISSING),
            "MIX": int(_MIX),
            "M64": _M64,
            "NS": _ns,
            "NS_DAY": _NS_PER_DAY,
            "NS_HOUR": _NS_PER_HOUR,
            "TIME": self.time_column,
        }
        self._derived: dict[str, str] = {}  # feature name -> local variable holding its value
        body: list[str] = []
        for i, feat in enumerate(spec.features):
            body += getattr(self, f"_{feat.kind}")(fb, feat, i)
        head = [
            "def finish(record, out):",
            "    get = record.get",
            "    ns = NS(record[TIME])",
            "    day = ns // NS_DAY",
        ]
        for i, (name, cut) in enumerate(self._parts):  # as the batch path's _hash_key: text, prefix, hash
            self._consts[f"PART{i}"] = name
            text = "(v if type(v) is str else str(v))" + (f"[:{int(cut)}]" if cut else "")
            head += [f"    v = get(PART{i})", f"    p{i} = MISSING if v is None else HASH({text})"]
        index = {part: i for i, part in enumerate(self._parts)}
        for k, level in enumerate(self._levels):
            expr = f"p{index[level[0]]}"
            for part in level[1:]:
                expr = f"({expr} * MIX + p{index[part]}) & M64"
            head.append(f"    k{k} = {expr}")
        lines = head + ["    " + line for line in body] + ["    return out"]
        self.source = "\n".join(lines)  # the generated code, for reading (constants are in _consts)
        namespace = dict(self._consts)
        exec(compile(self.source, f"<riskscore features for spec {spec.name!r}>", "exec"), namespace)
        self._finish: Callable[[dict[str, Any], list[float]], list[float]] = namespace["finish"]

    # -- per record ----------------------------------------------------------------------------------------

    def input_slots(self) -> dict[str, tuple[int, dict[str, float] | None, float]]:
        """Per declared column used as a feature as it is: (position, category codes or None, unseen code).

        A caller that checks the record column by column (``RiskModel._coerce_one``) writes these
        positions as it goes - the number itself, or the category's code (one past the kept codes when
        unseen) - and then calls :meth:`finish`; :meth:`row` does both for already-coerced values.
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

    # -- code per derived feature --------------------------------------------------------------------------

    def _key(self, columns: tuple[str, ...]) -> str:
        """Return the local variable holding the hashed key of these columns (e.g. ``("hs_code:4",)``)."""
        level = []
        for col in columns:
            name, _, cut = col.partition(":")
            part = (name, int(cut) if cut else None)
            if part not in self._parts:
                self._parts.append(part)
            level.append(part)
        if tuple(level) not in self._levels:
            self._levels.append(tuple(level))
        return f"k{self._levels.index(tuple(level))}"

    def _number(self, name: str, i: int, var: str) -> list[str]:
        """Lines putting input ``name`` (a derived feature's value, or a declared number) in ``var``."""
        if name in self._derived:
            return [f"{var} = {self._derived[name]}"]
        self._consts[f"IN{i}_{var}"] = name
        return [f"x = get(IN{i}_{var})", f"{var} = NAN if x is None else float(x)"]

    def _store(self, feat: Any, i: int) -> list[str]:
        """Lines keeping the value ``v`` of derived feature ``i`` (for later features, and in ``out``)."""
        self._derived[feat.name] = f"d{i}"
        j = self._pos.get(feat.name)
        return [f"d{i} = v"] + ([] if j is None else [f"out[{j}] = v"])

    def _log_ratio(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        lines = self._number(feat.inputs[0], i, "a") + self._number(feat.inputs[1], i, "b")
        lines += [
            "q = (a + EPS) / (b + EPS) if b + EPS != 0.0 else NAN",
            "v = LN(q) if q > 0.0 and q != INF else NAN",  # log of a positive finite q is finite
        ]
        return lines + self._store(feat, i)

    def _ratio(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        lines = self._number(feat.inputs[0], i, "a") + self._number(feat.inputs[1], i, "b")
        lines += ["v = a / b if b > 0.0 else NAN", "if v - v != 0.0:", "    v = NAN"]  # inf or nan -> nan
        return lines + self._store(feat, i)

    def _not_equal(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        self._consts[f"NEA{i}"], self._consts[f"NEB{i}"] = feat.inputs
        lines = [
            f"a = get(NEA{i})",
            f"b = get(NEB{i})",
            'v = float(("nan" if a is None else str(a)) != ("nan" if b is None else str(b)))',
        ]
        return lines + self._store(feat, i)

    def _reference(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        state = fb.references_[feat.name]
        source = feat.inputs[0]
        if source in self._derived:
            lines = [f"x = {self._derived[source]}"]
        else:  # a raw amount: compare in logs
            self._consts[f"RIN{i}"] = source
            lines = [f"x = get(RIN{i})", "x = LN(float(x)) if x is not None and x > 0.0 else NAN"]
        self._consts[f"GM{i}"] = float(state.global_mean)
        self._consts[f"SHRINK{i}"] = fb.reference_shrink
        lines.append(f"ref = GM{i}")
        levels = list(zip(reversed(state.levels), reversed(feat.by), strict=True))
        for lvl, ((uniq, sums, counts), by) in enumerate(levels):  # coarse to fine, as the batch path
            self._consts[f"REF{i}_{lvl}"] = {
                k: (n, s / max(n, 1.0))
                for k, s, n in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True)
                if n > 0
            }
            lines += [
                f"hit = REF{i}_{lvl}.get({self._key(tuple(by))})",
                "if hit is not None:",
                f"    ref = (hit[0] * hit[1] + SHRINK{i} * ref) / (hit[0] + SHRINK{i})",
            ]
        lines.append("v = x - ref if x - x == 0.0 else NAN")  # x - x is 0 exactly when x is finite
        return lines + self._store(feat, i)

    def _group_max_gap(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        keys, gmax = fb.gaps_[feat.name]
        self._consts[f"GAP{i}"] = dict(zip(keys.tolist(), gmax.tolist(), strict=True))
        self._consts[f"GIN{i}"] = feat.inputs[0]  # the declared value, as the batch path reads it
        lines = [
            f"x = get(GIN{i})",
            "value = NAN if x is None else float(x)",
            f"top = GAP{i}.get({self._key((feat.group,))}, value)",
            "v = max(top - value, 0.0)",
        ]
        return lines + self._store(feat, i)

    def _history(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        pos = self._pos
        slots = [pos[f"{feat.name}_count"], pos[f"{feat.name}_hit_rate"]]
        slots += [pos[f"{feat.name}_days_since_first"]] if feat.first_seen else []
        slots += [pos[f"{feat.name}_count_{w}d"] for w in feat.windows]
        slots += [pos[f"{feat.name}_spike"]] if len(feat.windows) >= 2 else []
        self._consts[f"HIST{i}"] = _history_values(fb, feat)
        names = ", ".join(f"h{n}" for n in range(len(slots)))
        lines = [f"{names}{',' if len(slots) == 1 else ''} = HIST{i}({self._key(tuple(feat.inputs))}, day)"]
        lines += [f"out[{j}] = h{n}" for n, j in enumerate(slots)]
        return lines

    def _calendar(self, fb: FeatureBuilder, feat: Any, i: int) -> list[str]:
        j_dow, j_hour = self._pos[f"{feat.name}_day_of_week"], self._pos[f"{feat.name}_hour"]
        if feat.inputs[0] == self.time_column:
            lines = ["t = ns"]
        else:  # pragma: no cover - the built-in specs take the calendar of the record time
            self._consts[f"CAL{i}"] = feat.inputs[0]
            lines = [f"t = NS(record[CAL{i}])"]
        return [
            *lines,
            f"out[{j_dow}] = float((t // NS_DAY + 3) % 7)",  # 1970-01-01 was a Thursday; Monday = 0
            f"out[{j_hour}] = float((t // NS_HOUR) % 24)",
        ]


def _history_values(fb: FeatureBuilder, feat: Any) -> Callable[[int, int], tuple[float, ...]]:
    """Return a function (entity key, day) -> the history feature values, memoised per (entity, day).

    The values, in order: count, smoothed hit rate, [days since first seen], one count per window,
    [spike] - the batch path's EventTable.lookup and FeatureBuilder._derive arithmetic on floats.
    """
    table = fb.histories_[feat.name]
    positions = dict(zip(table.keys.tolist(), range(len(table.keys)), strict=True))
    start, days_all, cum = table.start, table.day, table.cum
    windows = tuple(feat.windows)
    smooth, prior = float(fb.smoothing), float(fb.hit_rate_)
    first_seen = bool(feat.first_seen)
    spike = (windows[0], windows[-1]) if len(windows) >= 2 else None
    empty = len(days_all) == 0
    memo: dict[tuple[int, int], tuple[float, ...]] = {}  # bounded

    def compute(entity: int, day: int) -> tuple[float, ...]:
        at = None if empty else positions.get(entity)
        counts = [0.0] * len(windows)
        lo = hi = 0
        if at is not None:
            lo, hi = int(start[at]), int(start[at + 1])
        if hi == lo:  # an entity never seen (or with no stored days)
            count = inspected = hits = 0.0
            first = _NAN
        else:
            last = int(days_all[hi - 1])
            if day > last:  # scoring after the stored history, the usual case: all of it counts
                p = hi
            else:
                p = lo + int(days_all[lo:hi].searchsorted(max(day, 0), side="left"))
            if p > lo:
                c = cum[p - 1].tolist()
                count, inspected, hits = float(c[0]), float(c[1]), float(c[2])
                first = float(day - int(days_all[lo]))
            else:
                count = inspected = hits = 0.0
                first = _NAN
            for n, w in enumerate(windows):
                since = max(day - w, 0)
                if since > last:  # then p == hi: count minus the same cumulative count
                    counts[n] = count - count
                    continue
                pw = lo + int(days_all[lo:hi].searchsorted(since, side="left"))
                counts[n] = count - (float(cum[pw - 1, 0]) if pw > lo else 0.0)
        values = [count, (hits + smooth * prior) / (inspected + smooth)]
        if first_seen:
            values.append(first)
        values += counts
        if spike is not None:
            short, long_ = spike
            values.append(counts[0] / (counts[-1] * short / long_ + 1.0))
        return tuple(values)

    def lookup(entity: int, day: int) -> tuple[float, ...]:
        values = memo.get((entity, day))
        if values is None:
            values = compute(entity, day)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[entity, day] = values
        return values

    return lookup


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


def _utf8(text: str) -> bool:
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
        "_utf8": _utf8,
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
