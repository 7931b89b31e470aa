"""Fitted, spec-driven feature builder: the same code turns training history and new records into features.

What becomes a feature is decided by the record spec, never by the record kind:

* declared columns with roles ``category``, ``amount``, ``quantity``, ``weight``, ``count``, ``duration``,
  ``rate`` and ``flag`` are used as they are (categories through stored codes, see below);
* ``protected`` columns are left out unless named in ``include_protected`` (an explicit, logged choice,
  DOMAIN.md 3.5); ``id``, ``timestamp``, ``entity`` and ``text`` columns are not used raw;
* the spec's ``[[features]]`` add derived features: log ratios, deviations from a reference of the
  record's group (e.g. unit value against HS6 x origin, backing off to HS4 and HS2), rate gaps within a
  group, entity history (prior count, smoothed prior hit rate, days since first seen, recent counts) and
  the calendar.

Two rules keep it honest:

* **Time safety.** History features of a record use only records of strictly earlier days. Training
  queries the training records themselves; scoring queries the history stored at fit time. Both go
  through :class:`EventTable.lookup`, so there is one code path, and scoring a record never depends on
  the other records of its batch.
* **Category alignment.** Categories are mapped through the list stored at fit time; a value that was
  rare or unseen in training goes to one explicit bucket and is never confused with another category,
  whatever the input's dtype or category order.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore._onerecord import FeaturePlan
from riskscore.exceptions import SchemaError
from riskscore.spec import DerivedFeature, RecordSpec, load_spec

__all__ = ["EventTable", "FeatureBuilder"]

log = logging.getLogger("riskscore")

RAW_ROLES = frozenset({"category", "amount", "quantity", "weight", "count", "duration", "rate", "flag"})
OTHER = "__rare_or_unseen__"
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MISSING = np.uint64(0x5BD1E9955BD1E995)
_EPS = 1e-9
Float = NDArray[np.float64]
U64 = NDArray[np.uint64]


# --------------------------------------------------------------------------------------------- helpers


def _encode(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    return {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def _decode(d: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(d["data"].encode("ascii"), validate=True)
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def _text(series: pd.Series, prefix: int | None = None) -> tuple[NDArray[np.object_], NDArray[np.intp]]:
    """(distinct values as str, code per row; -1 = missing), cheap for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories.astype(str).to_numpy(dtype=object)
        codes = series.cat.codes.to_numpy().astype(np.intp)
    else:
        missing = series.isna().to_numpy()
        codes_, uniq = pd.factorize(series.astype(str).where(~missing), use_na_sentinel=True)
        cats, codes = np.asarray(uniq, dtype=object), codes_.astype(np.intp)
    if prefix is not None:
        cut = pd.Series(cats, dtype=object).str[:prefix].to_numpy(dtype=object)
        codes2, uniq2 = pd.factorize(cut)
        codes = np.where(codes >= 0, codes2[codes.clip(0)], -1) if len(cats) else codes
        cats = np.asarray(uniq2, dtype=object)
    return cats, codes


def _hash_key(frame: pd.DataFrame, columns: tuple[str, ...]) -> U64:
    """64-bit hash of the (possibly prefix-cut) values of columns, row by row; missing hashes to a constant."""
    out: U64 | None = None
    for spec in columns:
        name, _, cut = spec.partition(":")
        cats, codes = _text(frame[name], int(cut) if cut else None)
        cat_h = pd.util.hash_array(cats, categorize=False) if len(cats) else np.zeros(0, dtype=np.uint64)
        h = np.where(codes >= 0, cat_h[codes.clip(0)] if len(cats) else _MISSING, _MISSING).astype(np.uint64)
        out = h if out is None else (out * _MIX + h) & np.uint64(0xFFFFFFFFFFFFFFFF)
    assert out is not None
    return out


def _days(series: pd.Series) -> NDArray[np.int64]:
    values = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
    return values.astype("datetime64[D]").astype(np.int64)


def _numeric(series: pd.Series) -> Float:
    if series.dtype == bool or isinstance(series.dtype, pd.BooleanDtype):
        return np.asarray(
            series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64
        )
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _lookup_sorted(keys: U64, query: U64) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    idx = np.searchsorted(keys, query).clip(0, max(len(keys) - 1, 0))
    found = (keys[idx] == query) if len(keys) else np.zeros(len(query), dtype=bool)
    return idx.astype(np.intp), found


# ---------------------------------------------------------------------------------------------- events


@dataclass
class EventTable:
    """Per-entity daily history: for each (entity, day) the records, inspections and hits up to that day.

    Rows are sorted by (entity, day); counts are cumulative within the entity (inclusive), so the history
    strictly before any day is one binary search away.
    """

    keys: U64  # sorted distinct entity hashes
    start: NDArray[np.int64]  # offsets of each entity's rows, len(keys) + 1
    day: NDArray[np.int64]
    cum: NDArray[np.int64]  # (rows, 3): records, inspected, hits
    _comp: NDArray[np.int64] | None = field(default=None, repr=False, compare=False)

    @property
    def comp(self) -> NDArray[np.int64]:
        """Sorted search key per row: entity rank in the high 32 bits, day in the low (built once)."""
        if self._comp is None:
            ent = np.repeat(np.arange(len(self.keys), dtype=np.int64), np.diff(self.start))
            self._comp = (ent << 32) | self.day
        return self._comp

    @classmethod
    def build(
        cls, key: U64, day: NDArray[np.int64], inspected: NDArray[np.bool_], hit: NDArray[np.bool_]
    ) -> EventTable:
        """Aggregate records into the daily table."""
        counts = np.column_stack(
            [np.ones(len(key), np.int64), inspected.astype(np.int64), hit.astype(np.int64)]
        )
        return cls.from_counts(key, day, counts)

    @classmethod
    def from_counts(cls, key: U64, day: NDArray[np.int64], counts: NDArray[np.int64]) -> EventTable:
        """Aggregate (entity, day, [records, inspected, hits]) rows into the daily table."""
        if len(key) == 0:
            return cls(
                np.zeros(0, np.uint64),
                np.zeros(1, np.int64),
                np.zeros(0, np.int64),
                np.zeros((0, 3), np.int64),
            )
        order = np.lexsort((day, key))
        k, d = key[order], day[order]
        vals = counts[order].astype(np.int64)
        new = np.ones(len(k), dtype=bool)
        new[1:] = (k[1:] != k[:-1]) | (d[1:] != d[:-1])
        starts = np.flatnonzero(new)
        sums = np.add.reduceat(vals, starts, axis=0)
        rk, rd = k[starts], d[starts]
        key_new = np.ones(len(rk), dtype=bool)
        key_new[1:] = rk[1:] != rk[:-1]
        key_start = np.flatnonzero(key_new)
        cum = np.cumsum(sums, axis=0)
        base = np.repeat(
            np.vstack([np.zeros((1, 3), np.int64), cum[key_start[1:] - 1]]),
            np.diff(np.append(key_start, len(rk))),
            axis=0,
        )
        return cls(
            rk[key_start], np.append(key_start, len(rk)).astype(np.int64), rd.astype(np.int64), cum - base
        )

    def increments(self) -> tuple[U64, NDArray[np.int64], NDArray[np.int64]]:
        """Return the table as (entity, day, counts) rows: the inverse of :meth:`from_counts`."""
        ent = np.repeat(np.arange(len(self.keys)), np.diff(self.start))
        prev = np.vstack([np.zeros((1, 3), np.int64), self.cum[:-1]])
        first = np.zeros(len(ent), dtype=bool)
        first[self.start[:-1][np.diff(self.start) > 0]] = True
        prev[first] = 0
        return self.keys[ent], self.day, self.cum - prev

    def merge(self, other: EventTable) -> EventTable:
        """Return the table of both tables' events."""
        k1, d1, c1 = self.increments()
        k2, d2, c2 = other.increments()
        return EventTable.from_counts(np.concatenate([k1, k2]), np.concatenate([d1, d2]), np.vstack([c1, c2]))

    def compact(self, as_of_day: int, keep_days: int) -> EventTable:
        """Collapse each entity's days older than ``as_of_day - keep_days`` into one row at its first day.

        Queries on or after ``as_of_day`` give the same answers as on the full table (the collapsed row
        keeps the totals and the first day; windows of up to ``keep_days`` days never reach it).
        """
        if len(self.day) == 0:
            return self
        ent = np.repeat(np.arange(len(self.keys)), np.diff(self.start))
        old = self.day < as_of_day - keep_days
        next_same = np.append(ent[1:] == ent[:-1], False)
        next_old = np.append(old[1:], False)
        last_old = old & ~(next_same & next_old)  # old rows are a prefix of each entity's rows
        keep = ~old | last_old
        day = self.day.copy()
        first = self.day[self.start[:-1]]
        day[last_old] = first[ent[last_old]]
        ent_k = ent[keep]
        counts = np.bincount(ent_k, minlength=len(self.keys))
        return EventTable(
            self.keys, np.append(0, np.cumsum(counts)).astype(np.int64), day[keep], self.cum[keep]
        )

    def lookup(self, key: U64, day: NDArray[np.int64], windows: tuple[int, ...] = ()) -> dict[str, Float]:
        """History strictly before ``day`` for each query: counts, first day, recent-window counts."""
        n = len(key)
        if len(self.day) == 0:  # no history at all
            zeros = np.zeros(n)
            out = {
                "count": zeros,
                "inspected": zeros.copy(),
                "hits": zeros.copy(),
                "days_since_first": np.full(n, np.nan),
            }
            out.update({f"count_{w}d": zeros.copy() for w in windows})
            return out
        kidx, found = _lookup_sorted(self.keys, key)
        lo = np.where(found, self.start[kidx], 0)
        comp = self.comp
        qbase = kidx.astype(np.int64) << 32
        query = qbase | np.maximum(day, 0)
        # Sorted queries make the binary searches walk the table in order (far fewer cache misses on a
        # large history); the answers are put back in the records' order.
        order = np.argsort(query, kind="stable") if n > 1024 else None

        def search(q: NDArray[np.int64]) -> NDArray[np.int64]:
            if order is None:
                return np.asarray(np.searchsorted(comp, q, side="left"), dtype=np.int64)
            out_ = np.empty(n, dtype=np.int64)
            out_[order] = np.searchsorted(comp, q[order], side="left")
            return out_

        # position of the first row of this entity on or after a day: rows before it are strictly earlier
        p = search(query)
        has = found & (p > lo)
        prev = np.where(has, p - 1, 0)
        cum = self.cum[prev]
        out = {
            "count": np.where(has, cum[:, 0], 0).astype(np.float64),
            "inspected": np.where(has, cum[:, 1], 0).astype(np.float64),
            "hits": np.where(has, cum[:, 2], 0).astype(np.float64),
            "days_since_first": np.where(has, day - self.day[lo], np.nan).astype(np.float64),
        }
        for w in windows:
            pw = search(qbase | np.maximum(day - w, 0))
            has_w = found & (pw > lo)
            before_w = np.where(has_w, self.cum[np.where(has_w, pw - 1, 0), 0], 0)
            out[f"count_{w}d"] = out["count"] - before_w
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "keys": _encode(self.keys),
            "start": _encode(self.start),
            "day": _encode(self.day),
            "cum": _encode(self.cum),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventTable:
        """Inverse of :meth:`to_dict`."""
        return cls(_decode(d["keys"]), _decode(d["start"]), _decode(d["day"]), _decode(d["cum"]))


# ----------------------------------------------------------------------------------------- the builder


@dataclass
class _Reference:
    levels: list[tuple[U64, Float, Float]]  # per level (finest first): sorted keys, sums, counts
    global_mean: float


@dataclass
class FeatureBuilder:
    """Turn records of one spec into a float64 feature matrix for LightGBM.

    Parameters
    ----------
    spec
        The record spec (or the name of a built-in one).
    include_protected
        Protected columns to use as features anyway. Each inclusion is logged as a warning; the default
        keeps every protected attribute out of the model (DOMAIN.md 3.5).
    min_category_count
        Categories seen fewer times in training share the rare-or-unseen bucket.
    smoothing
        Pseudo-inspections pulling an entity's hit rate towards the overall rate.
    reference_shrink
        Pseudo-records pulling a group's reference towards its coarser group.
    history_keep_days
        Days of daily detail kept in the stored history (the longest window must fit).
    """

    spec: RecordSpec | str
    include_protected: tuple[str, ...] = ()
    min_category_count: int = 20
    smoothing: float = 20.0
    reference_shrink: float = 10.0
    history_keep_days: int = 120
    # fitted state
    feature_names_: list[str] = field(default_factory=list)
    categorical_: dict[str, list[str]] = field(default_factory=dict)
    raw_numeric_: list[str] = field(default_factory=list)
    references_: dict[str, _Reference] = field(default_factory=dict)
    gaps_: dict[str, tuple[U64, Float]] = field(default_factory=dict)
    histories_: dict[str, EventTable] = field(default_factory=dict)
    hit_rate_: float = 0.0
    last_day_: int = 0
    fitted_: bool = False

    def __post_init__(self) -> None:
        self.spec = load_spec(self.spec)
        protected = set(self.spec.protected_columns)
        unknown = [c for c in self.include_protected if c not in protected]
        if unknown:
            raise SchemaError(
                f"include_protected names {unknown}, which are not protected columns of spec "
                f"{self.spec.name!r}; protected columns: {sorted(protected)}"
            )
        for c in self.include_protected:
            log.warning("protected attribute %r is used as a model feature (explicit include_protected)", c)

    # -- column selection ------------------------------------------------------------------------------

    def _raw_columns(self) -> tuple[list[str], list[str]]:
        assert isinstance(self.spec, RecordSpec)
        cats: list[str] = []
        nums: list[str] = []
        for col in self.spec.columns:
            if not col.declared:
                continue
            use = col.role in RAW_ROLES or (col.role == "protected" and col.name in self.include_protected)
            if not use:
                continue
            (cats if col.type in ("category", "string") else nums).append(col.name)
        return cats, nums

    # -- fit / transform -------------------------------------------------------------------------------

    def fit_transform(
        self, frame: pd.DataFrame, *, inspected: np.ndarray | None = None, hits: np.ndarray | None = None
    ) -> Float:
        """Fit on training history and return its features, history strictly from earlier days.

        Parameters
        ----------
        frame
            Records already validated against the spec.
        inspected, hits
            Per record: was it inspected, and did the inspection find a violation. Used only for the
            history hit rates, and only for records of earlier days than the one being featurised.
        """
        assert isinstance(self.spec, RecordSpec)
        n = len(frame)
        insp = np.zeros(n, bool) if inspected is None else np.asarray(inspected, dtype=bool)
        hit = np.zeros(n, bool) if hits is None else np.asarray(hits, dtype=bool) & insp
        self.hit_rate_ = float(hit.sum() / insp.sum()) if insp.any() else 0.0
        day = _days(frame[self.spec.time_column])
        self.last_day_ = int(day.max()) if n else 0
        cats, nums = self._raw_columns()
        self.categorical_ = {}
        for name in cats:
            values, codes = _text(frame[name])
            counts = np.bincount(codes[codes >= 0], minlength=len(values))
            kept = sorted(str(v) for v, c in zip(values, counts, strict=True) if c >= self.min_category_count)
            self.categorical_[name] = kept
        self.raw_numeric_ = list(nums)
        self.references_, self.gaps_, self.histories_ = {}, {}, {}
        self.__dict__.pop("_one_plan", None)  # the one-record plan follows the fitted state
        out = self._features(frame, day, training=True, inspected=insp, hits=hit)
        self.fitted_ = True
        # keep only the recent daily detail for scoring (collapsed totals before it)
        for name, table in self.histories_.items():
            self.histories_[name] = table.compact(self.last_day_ + 1, self.history_keep_days)
        return out

    def extend_history(
        self, frame: pd.DataFrame, *, inspected: np.ndarray | None = None, hits: np.ndarray | None = None
    ) -> None:
        """Add later records (and their inspection outcomes, when known) to the stored history.

        Only history changes: categories, references and gaps stay as fitted. Use it to bring a model's
        history up to date (e.g. with the validation window, or with each day's lodged declarations).
        """
        if not self.fitted_:
            raise RuntimeError("FeatureBuilder is not fitted; call fit_transform on training history first")
        assert isinstance(self.spec, RecordSpec)
        n = len(frame)
        insp = np.zeros(n, bool) if inspected is None else np.asarray(inspected, dtype=bool)
        hit = np.zeros(n, bool) if hits is None else np.asarray(hits, dtype=bool) & insp
        day = _days(frame[self.spec.time_column])
        for feat in self.spec.features:
            if feat.kind != "history":
                continue
            new = EventTable.build(_hash_key(frame, feat.inputs), day, insp, hit)
            self.histories_[feat.name] = self.histories_[feat.name].merge(new)
        if n:
            self.last_day_ = max(self.last_day_, int(day.max()))
        for name, table in self.histories_.items():
            self.histories_[name] = table.compact(self.last_day_ + 1, self.history_keep_days)
        self.__dict__.pop("_one_plan", None)  # the one-record plan follows the fitted state

    def transform(self, frame: pd.DataFrame) -> Float:
        """Features of new records from the stored state; each row depends only on itself."""
        if not self.fitted_:
            raise RuntimeError("FeatureBuilder is not fitted; call fit_transform on training history first")
        assert isinstance(self.spec, RecordSpec)
        return self._features(frame, _days(frame[self.spec.time_column]), training=False)

    def _features(
        self,
        frame: pd.DataFrame,
        day: NDArray[np.int64],
        *,
        training: bool,
        inspected: np.ndarray | None = None,
        hits: np.ndarray | None = None,
    ) -> Float:
        assert isinstance(self.spec, RecordSpec)
        cols: dict[str, Any] = {}
        for name, kept in self.categorical_.items():
            values, codes = _text(frame[name])
            mapped = pd.Index(kept).get_indexer(pd.Index(values)) if len(values) else np.zeros(0, np.intp)
            mapped = np.where(mapped >= 0, mapped, len(kept))  # rare or unseen bucket
            cols[name] = np.where(codes >= 0, mapped[codes.clip(0)] if len(values) else 0, np.nan).astype(
                np.float64
            )
        for name in self.raw_numeric_:
            cols[name] = _numeric(frame[name])
        derived: dict[str, Float] = {}
        for feat in self.spec.features:
            self._derive(feat, frame, day, derived, cols, training, inspected, hits)
        if training:
            self.feature_names_ = list(cols)
        missing = [c for c in self.feature_names_ if c not in cols]
        if missing:  # pragma: no cover - same spec, same code path
            raise RuntimeError(f"features {missing} were not produced")
        X = np.empty((len(frame), len(self.feature_names_)), dtype=np.float64)
        for j, c in enumerate(self.feature_names_):
            X[:, j] = cols[c]
        return X

    def _value(self, name: str, frame: pd.DataFrame, derived: dict[str, Float]) -> Float:
        return derived[name] if name in derived else _numeric(frame[name])

    def _derive(
        self,
        feat: DerivedFeature,
        frame: pd.DataFrame,
        day: NDArray[np.int64],
        derived: dict[str, Float],
        cols: dict[str, Any],
        training: bool,
        inspected: np.ndarray | None,
        hits: np.ndarray | None,
    ) -> None:
        kind = feat.kind
        if kind in ("log_ratio", "ratio"):
            a, b = (self._value(i, frame, derived) for i in feat.inputs)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                v = np.log((a + _EPS) / (b + _EPS)) if kind == "log_ratio" else np.where(b > 0, a / b, np.nan)
            derived[feat.name] = cols[feat.name] = np.where(np.isfinite(v), v, np.nan)
        elif kind == "not_equal":
            a, b = (frame[i].astype(str).to_numpy(dtype=object) for i in feat.inputs)
            derived[feat.name] = cols[feat.name] = (a != b).astype(np.float64)
        elif kind == "reference":
            cols[feat.name] = derived[feat.name] = self._reference(feat, frame, derived, training)
        elif kind == "group_max_gap":
            cols[feat.name] = derived[feat.name] = self._gap(feat, frame, training)
        elif kind == "history":
            key = _hash_key(frame, feat.inputs)
            if training:
                assert inspected is not None and hits is not None
                table = EventTable.build(key, day, inspected, hits)
                self.histories_[feat.name] = table
            table = self.histories_[feat.name]
            h = table.lookup(key, day, feat.windows)
            cols[f"{feat.name}_count"] = h["count"]
            smooth = self.smoothing
            cols[f"{feat.name}_hit_rate"] = (h["hits"] + smooth * self.hit_rate_) / (h["inspected"] + smooth)
            if feat.first_seen:
                cols[f"{feat.name}_days_since_first"] = h["days_since_first"]
            for w in feat.windows:
                cols[f"{feat.name}_count_{w}d"] = h[f"count_{w}d"]
            if len(feat.windows) >= 2:
                short, long_ = feat.windows[0], feat.windows[-1]
                cols[f"{feat.name}_spike"] = h[f"count_{short}d"] / (
                    h[f"count_{long_}d"] * short / long_ + 1.0
                )
        elif kind == "calendar":
            ts = pd.to_datetime(frame[feat.inputs[0]])
            cols[f"{feat.name}_day_of_week"] = ts.dt.day_of_week.to_numpy(dtype=np.float64)
            cols[f"{feat.name}_hour"] = ts.dt.hour.to_numpy(dtype=np.float64)
        else:  # pragma: no cover - the spec validates kinds
            raise ValueError(kind)

    def _reference(
        self, feat: DerivedFeature, frame: pd.DataFrame, derived: dict[str, Float], training: bool
    ) -> Float:
        x = self._value(feat.inputs[0], frame, derived)
        if feat.inputs[0] not in derived:  # a raw amount: compare in logs
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                x = np.log(np.where(x > 0, x, np.nan))
        ok = np.isfinite(x)
        keys = [_hash_key(frame, level) for level in feat.by]
        if training:
            levels = []
            for k in keys:
                order = np.argsort(k[ok], kind="stable")
                kk, xx = k[ok][order], x[ok][order]
                uniq, first = np.unique(kk, return_index=True)
                sums = np.add.reduceat(xx, first) if len(xx) else np.zeros(0)
                counts = np.diff(np.append(first, len(kk))).astype(np.float64)
                levels.append((uniq, sums, counts))
            self.references_[feat.name] = _Reference(levels, float(np.nanmean(x[ok])) if ok.any() else 0.0)
        ref_state = self.references_[feat.name]
        s = self.reference_shrink
        ref = np.full(len(x), ref_state.global_mean)
        for (uniq, sums, counts), k in zip(reversed(ref_state.levels), reversed(keys), strict=True):
            idx, found = _lookup_sorted(uniq, k)
            total = np.where(found, sums[idx] if len(sums) else 0.0, 0.0)
            n = np.where(found, counts[idx] if len(counts) else 0.0, 0.0)
            if training:  # leave the record itself out of its own reference
                total = total - np.where(ok & found, x, 0.0)
                n = n - (ok & found)
            mean = np.where(n > 0, total / np.maximum(n, 1.0), 0.0)
            ref = np.where(n > 0, (n * mean + s * ref) / (n + s), ref)
        return np.where(ok, x - ref, np.nan)

    def _gap(self, feat: DerivedFeature, frame: pd.DataFrame, training: bool) -> Float:
        value = _numeric(frame[feat.inputs[0]])
        group = _hash_key(frame, (feat.group,))
        if training:
            code = _hash_key(frame, (feat.key,))
            typical = pd.Series(value).groupby([group, code]).median()
            counts = pd.Series(value).groupby([group, code]).size()
            typical = typical[counts >= 5]
            gmax = typical.groupby(level=0).max()
            keys = gmax.index.to_numpy(dtype=np.uint64)
            order = np.argsort(keys)
            self.gaps_[feat.name] = (
                keys[order],
                np.asarray(gmax.to_numpy(dtype=np.float64)[order], dtype=np.float64),
            )
        gap_keys, gap_max = self.gaps_[feat.name]
        idx, found = _lookup_sorted(gap_keys, group)
        top = np.where(found, gap_max[idx] if len(gap_max) else 0.0, value)
        return np.maximum(top - value, 0.0)

    # -- one record, without pandas ----------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle and copy without the one-record plan (rebuilt on first use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_one_plan"}

    def _plan(self) -> FeaturePlan:
        """Return the compiled one-record plan for the current fitted state (built on first use)."""
        plan = self.__dict__.get("_one_plan")
        if plan is None:
            plan = FeaturePlan(self)
            self.__dict__["_one_plan"] = plan
        return plan

    def row_one(self, record: dict[str, Any]) -> list[float]:
        """:meth:`transform_one` as a plain list of floats (the fastest form for the single-row predictor)."""
        if not self.fitted_:
            raise RuntimeError("FeatureBuilder is not fitted; call fit_transform on training history first")
        return self._plan().row(record)

    def transform_one(self, record: dict[str, Any]) -> Float:
        """Features of one record given as already-coerced Python values, without pandas.

        Same arithmetic as :meth:`transform`, so the result is identical bit for bit (tested); the
        caller (``RiskModel.predict_one``) is responsible for type checks. Values: floats and ints for
        numbers, ``bool`` for flags, ``str`` for categories, ``numpy.datetime64`` for the time column,
        ``None`` for missing.
        """
        return np.array([self.row_one(record)], dtype=np.float64)

    def unseen_rates(self, X: Float) -> dict[str, float]:
        """Share of rows whose entity has no earlier record, per history feature, from built features ``X``.

        A history feature's ``<name>_count`` is 0 exactly when its key (an importer, a broker, a pair...) has
        no record on an earlier day in the stored history. A high share in a batch of regular traffic
        usually means ids arrive in another form than in training (spaces, case, another code list).
        """
        assert isinstance(self.spec, RecordSpec)
        rates: dict[str, float] = {}
        for feat in self.spec.features:
            name = f"{feat.name}_count"
            if feat.kind == "history" and name in self.feature_names_ and len(X):
                column = X[:, self.feature_names_.index(name)]
                rates[feat.name] = float(np.count_nonzero(column == 0.0) / len(X))
        return rates

    # -- persistence -----------------------------------------------------------------------------------

    @property
    def categorical_features(self) -> list[str]:
        """Names of the features LightGBM must treat as categorical (integer codes)."""
        return [c for c in self.feature_names_ if c in self.categorical_]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (arrays base64-encoded); no code, no pickle."""
        assert isinstance(self.spec, RecordSpec)
        return {
            "spec_fingerprint": self.spec.fingerprint(),
            "params": {
                "include_protected": list(self.include_protected),
                "min_category_count": self.min_category_count,
                "smoothing": self.smoothing,
                "reference_shrink": self.reference_shrink,
                "history_keep_days": self.history_keep_days,
            },
            "feature_names": self.feature_names_,
            "categorical": self.categorical_,
            "raw_numeric": self.raw_numeric_,
            "references": {
                k: {
                    "global_mean": r.global_mean,
                    "levels": [[_encode(u), _encode(s), _encode(c)] for u, s, c in r.levels],
                }
                for k, r in self.references_.items()
            },
            "gaps": {k: [_encode(u), _encode(g)] for k, (u, g) in self.gaps_.items()},
            "histories": {k: t.to_dict() for k, t in self.histories_.items()},
            "hit_rate": self.hit_rate_,
            "last_day": self.last_day_,
        }

    @classmethod
    def from_dict(cls, spec: RecordSpec, d: dict[str, Any]) -> FeatureBuilder:
        """Rebuild a fitted builder from :meth:`to_dict` output and its spec."""
        if d["spec_fingerprint"] != spec.fingerprint():
            raise SchemaError(
                f"the stored features were fitted on a different version of spec {spec.name!r}; "
                "load the model with the spec it was trained with, or retrain"
            )
        params = d["params"]
        fb = cls(
            spec,
            include_protected=tuple(params["include_protected"]),
            min_category_count=params["min_category_count"],
            smoothing=params["smoothing"],
            reference_shrink=params["reference_shrink"],
            history_keep_days=params["history_keep_days"],
        )
        fb.feature_names_ = list(d["feature_names"])
        fb.categorical_ = {k: list(v) for k, v in d["categorical"].items()}
        fb.raw_numeric_ = list(d["raw_numeric"])
        fb.references_ = {
            k: _Reference(
                [(_decode(u), _decode(s), _decode(c)) for u, s, c in r["levels"]], float(r["global_mean"])
            )
            for k, r in d["references"].items()
        }
        fb.gaps_ = {k: (_decode(u), _decode(g)) for k, (u, g) in d["gaps"].items()}
        fb.histories_ = {k: EventTable.from_dict(t) for k, t in d["histories"].items()}
        fb.hit_rate_ = float(d["hit_rate"])
        fb.last_day_ = int(d["last_day"])
        fb.fitted_ = True
        return fb
