"""The one-record path, compiled: a fitted feature builder turned into plain-Python steps for one dict.

``RiskModel.predict_one`` must answer one declaration in well under a millisecond and give exactly what
the batch path gives. The batch code interprets the spec column by column over arrays; here the same
arithmetic is laid out once per fitted builder as a list of small steps over Python floats and dicts:

- text keys are hashed exactly as pandas' ``hash_array(..., categorize=False)`` does (SipHash-2-4 then
  the same 64-bit mixing), memoised per text, and combined per key as the batch ``_hash_key`` does;
- reference tables become ``{key: (count, mean)}`` dicts, level by level, so a lookup is a dict get;
- history tables stay numpy arrays (they can hold millions of rows) and are searched per entity slice;
- IEEE arithmetic on Python floats rounds exactly as numpy's float64 does for + - * /; logarithms still go
  through ``numpy.log`` so the result is numpy's, bit for bit.

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


Step = Callable[[dict[str, Any], list[float], dict[str, float], list[int]], None]


class FeaturePlan:
    """The features of one record, as :meth:`FeatureBuilder.transform` computes them, without pandas.

    Built once per fitted builder (``FeatureBuilder._plan()``); thread-safe: steps only read shared state,
    and the text-hash memo is a dict (single operations are atomic under the GIL).
    """

    def __init__(self, fb: FeatureBuilder) -> None:
        from riskscore.features import _EPS, _MISSING, _MIX
        from riskscore.spec import RecordSpec

        spec = fb.spec
        assert isinstance(spec, RecordSpec)
        self.names: list[str] = list(fb.feature_names_)
        self._pos = {n: i for i, n in enumerate(self.names)}
        self._hash = text_hasher()
        self._missing, self._mixc = int(_MISSING), int(_MIX)
        self._eps = _EPS
        self.time_column: str = spec.time_column
        self._parts: list[tuple[str, int | None]] = []  # distinct (column, prefix length) hashed per record
        self._levels: list[tuple[tuple[str, int | None], ...]] = []  # distinct keys, as parts
        self._categories = [
            (name, self._pos[name], {v: float(i) for i, v in enumerate(kept)}, float(len(kept)))
            for name, kept in fb.categorical_.items()
        ]
        self._raw_numbers = [(name, self._pos[name]) for name in fb.raw_numeric_]
        steps: list[Step] = []
        self._derived_names: set[str] = set()  # features computed before the one being laid out
        for feat in spec.features:
            build = getattr(self, f"_{feat.kind}")
            steps.append(build(fb, feat))
            if feat.kind not in ("history", "calendar"):  # as in the batch path, these are not inputs
                self._derived_names.add(feat.name)
        self._steps = steps
        index = {part: i for i, part in enumerate(self._parts)}
        self._level_parts = [(index[level[0]], tuple(index[p] for p in level[1:])) for level in self._levels]

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
        return self.finish(dict(record), out)

    def finish(self, record: dict[str, Any], out: list[float]) -> list[float]:
        """Add the derived features to ``out``, whose input slots are filled; ``record`` gains two keys."""
        derived: dict[str, float] = {}
        ns = _ns(record[self.time_column])
        record["__ns__"] = ns  # never a column name: spec names are identifiers
        record["__day__"] = ns // _NS_PER_DAY
        hasher, missing, mixc = self._hash, self._missing, self._mixc
        parts: list[int] = []  # hash of each distinct (column, prefix), as in the batch path's _hash_key
        for name, cut in self._parts:
            value = record.get(name)
            if value is None:
                parts.append(missing)
            else:
                text = value if type(value) is str else str(value)
                parts.append(hasher(text[:cut] if cut else text))
        keys: list[int] = []  # each distinct key: its parts' hashes combined
        for first, rest in self._level_parts:
            acc = parts[first]
            for part in rest:
                acc = (acc * mixc + parts[part]) & _M64
            keys.append(acc)
        for step in self._steps:
            step(record, out, derived, keys)
        return out

    def _key_index(self, columns: tuple[str, ...]) -> int:
        """Index of the hashed key of these columns (e.g. ``("hs_code:4",)``) among each record's keys."""
        level = []
        for col in columns:
            name, _, cut = col.partition(":")
            part = (name, int(cut) if cut else None)
            if part not in self._parts:
                self._parts.append(part)
            level.append(part)
        if tuple(level) not in self._levels:
            self._levels.append(tuple(level))
        return self._levels.index(tuple(level))

    # -- step builders -------------------------------------------------------------------------------------

    def _log_ratio(self, fb: FeatureBuilder, feat: Any) -> Step:
        return self._ratio_step(feat, log=True)

    def _ratio(self, fb: FeatureBuilder, feat: Any) -> Step:
        return self._ratio_step(feat, log=False)

    def _ratio_step(self, feat: Any, *, log: bool) -> Step:
        a_name, b_name = feat.inputs
        a_derived, b_derived = (i in self._derived_names for i in feat.inputs)
        name, j, eps = feat.name, self._pos.get(feat.name), self._eps
        ln = scalar_log()

        def step(
            record: dict[str, Any], out: list[float], derived: dict[str, float], keys: list[int]
        ) -> None:
            if a_derived:
                a = derived[a_name]
            else:
                raw = record.get(a_name)
                a = _NAN if raw is None else float(raw)
            if b_derived:
                b = derived[b_name]
            else:
                raw = record.get(b_name)
                b = _NAN if raw is None else float(raw)
            if log:
                q = (a + eps) / (b + eps) if b + eps != 0.0 else _NAN
                v = ln(q) if q > 0.0 and q != math.inf else _NAN
            else:
                v = a / b if b > 0.0 else _NAN
                if v - v != 0.0:  # inf or nan
                    v = _NAN
            derived[name] = v
            if j is not None:
                out[j] = v

        return step

    def _not_equal(self, fb: FeatureBuilder, feat: Any) -> Step:
        a_name, b_name = feat.inputs
        name, j = feat.name, self._pos.get(feat.name)

        def step(
            record: dict[str, Any], out: list[float], derived: dict[str, float], keys: list[int]
        ) -> None:
            a, b = record.get(a_name), record.get(b_name)
            v = float(("nan" if a is None else str(a)) != ("nan" if b is None else str(b)))
            derived[name] = v
            if j is not None:
                out[j] = v

        return step

    def _reference(self, fb: FeatureBuilder, feat: Any) -> Step:
        state = fb.references_[feat.name]
        shrink = fb.reference_shrink
        coarse_first = []
        for (uniq, sums, counts), level in zip(reversed(state.levels), reversed(feat.by), strict=True):
            table = {
                k: (n, s / max(n, 1.0))
                for k, s, n in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True)
                if n > 0
            }
            coarse_first.append((self._key_index(tuple(level)), table))
        source = feat.inputs[0]
        from_derived = source in self._derived_names
        global_mean = float(state.global_mean)
        name, j = feat.name, self._pos.get(feat.name)
        ln = scalar_log()

        def step(
            record: dict[str, Any], out: list[float], derived: dict[str, float], keys: list[int]
        ) -> None:
            if from_derived:
                x = derived[source]
            else:  # a raw amount: compare in logs
                raw = record.get(source)
                x = ln(float(raw)) if raw is not None and raw > 0.0 else _NAN
            ref = global_mean
            for k, table in coarse_first:
                hit = table.get(keys[k])
                if hit is not None:
                    n, mean = hit
                    ref = (n * mean + shrink * ref) / (n + shrink)
            v = x - ref if math.isfinite(x) else _NAN
            derived[name] = v
            if j is not None:
                out[j] = v

        return step

    def _group_max_gap(self, fb: FeatureBuilder, feat: Any) -> Step:
        keys, gmax = fb.gaps_[feat.name]
        table = dict(zip(keys.tolist(), gmax.tolist(), strict=True))
        k = self._key_index((feat.group,))
        source = feat.inputs[0]
        name, j = feat.name, self._pos.get(feat.name)

        def step(
            record: dict[str, Any], out: list[float], derived: dict[str, float], keys: list[int]
        ) -> None:
            raw = record.get(source)  # the declared value, as the batch path reads it
            value = _NAN if raw is None else float(raw)
            top = table.get(keys[k], value)
            v = max(top - value, 0.0)
            derived[name] = v
            if j is not None:
                out[j] = v

        return step

    def _history(self, fb: FeatureBuilder, feat: Any) -> Step:
        table = fb.histories_[feat.name]
        positions = dict(zip(table.keys.tolist(), range(len(table.keys)), strict=True))
        start, days_all, cum = table.start, table.day, table.cum
        k = self._key_index(tuple(feat.inputs))
        windows = tuple(feat.windows)
        smooth, prior = float(fb.smoothing), float(fb.hit_rate_)
        pos = self._pos
        j_count = pos[f"{feat.name}_count"]
        j_rate = pos[f"{feat.name}_hit_rate"]
        j_first = pos[f"{feat.name}_days_since_first"] if feat.first_seen else None
        j_windows = [pos[f"{feat.name}_count_{w}d"] for w in windows]
        spike = None
        if len(windows) >= 2:
            spike = (pos[f"{feat.name}_spike"], 0, len(windows) - 1, windows[0], windows[-1])
        empty = len(days_all) == 0
        # (position, value) pairs written per record, in this order: count, hit rate, [days since first],
        # one count per window, [spike]
        slots = [j_count, j_rate] + ([] if j_first is None else [j_first]) + j_windows
        slots += [] if spike is None else [spike[0]]
        memo: dict[tuple[int, int], tuple[float, ...]] = {}  # (entity, day) -> values; bounded

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
                for i, w in enumerate(windows):
                    since = max(day - w, 0)
                    if since > last:  # then p == hi: count minus the same cumulative count
                        counts[i] = count - count
                        continue
                    pw = lo + int(days_all[lo:hi].searchsorted(since, side="left"))
                    counts[i] = count - (float(cum[pw - 1, 0]) if pw > lo else 0.0)
            values = [count, (hits + smooth * prior) / (inspected + smooth)]
            if j_first is not None:
                values.append(first)
            values += counts
            if spike is not None:
                _, i_short, i_long, short, long_ = spike
                values.append(counts[i_short] / (counts[i_long] * short / long_ + 1.0))
            return tuple(values)

        def step(
            record: dict[str, Any], out: list[float], derived: dict[str, float], keys: list[int]
        ) -> None:
            at = (keys[k], record["__day__"])
            values = memo.get(at)
            if values is None:
                values = compute(*at)
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[at] = values
            for j, v in zip(slots, values, strict=True):
                out[j] = v

        return step

    def _calendar(self, fb: FeatureBuilder, feat: Any) -> Step:
        j_dow = self._pos[f"{feat.name}_day_of_week"]
        j_hour = self._pos[f"{feat.name}_hour"]
        source, time_column = feat.inputs[0], self.time_column

        def step(
            record: dict[str, Any], out: list[float], derived: dict[str, float], keys: list[int]
        ) -> None:
            ns = record["__ns__"] if source == time_column else _ns(record[source])
            out[j_dow] = float((ns // _NS_PER_DAY + 3) % 7)  # 1970-01-01 was a Thursday; Monday = 0
            out[j_hour] = float((ns // _NS_PER_HOUR) % 24)

        return step


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


def _timestamp(v: Any) -> pd.Timestamp | None:
    """Return a naive time in pandas' nanosecond range as a Timestamp, else None (the batch path decides)."""
    if type(v) is pd.Timestamp:
        ts = v
    elif isinstance(v, str | dt.datetime | np.datetime64):
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
