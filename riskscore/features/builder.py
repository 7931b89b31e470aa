"""Fitted, spec-driven feature builder: the same code turns training history and new records into features.

What becomes a feature is decided by the record spec, never by the record kind:

* declared columns with roles ``category``, ``amount``, ``quantity``, ``weight``, ``count``, ``duration``,
  ``rate`` and ``flag`` are used as they are (categories through stored codes, see below);
* ``protected`` columns are left out unless named in ``include_protected`` (an explicit, logged choice,
  docs/domain.md 3.5); ``id``, ``timestamp``, ``entity`` and ``text`` columns are not used raw;
* the spec's ``[[features]]`` add derived features, each computed by its kind (``registry.KINDS``: log
  ratios, references of the record's group with backoff, rate gaps within a group, key history, the
  calendar). The builder only assembles kinds: it holds their fitted states and puts their outputs in
  matrix order.

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

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskscore._hashing import text_codes
from riskscore.exceptions import SchemaError
from riskscore.features._common import Float, days, numeric
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.code_level import add_counts, level_counts
from riskscore.features.events import EventTable
from riskscore.features.plan import FeaturePlan
from riskscore.features.registry import KINDS
from riskscore.spec import RecordSpec, load_spec

__all__ = ["FeatureBuilder", "PartialFit"]

log = logging.getLogger("riskscore")

RAW_ROLES = frozenset({"category", "amount", "quantity", "weight", "count", "duration", "rate", "flag"})


@dataclass
class PartialFit:
    """One partition's share of what :meth:`FeatureBuilder.fit_transform` fits (:meth:`FeatureBuilder.partial_fit`).

    Counts add up; each feature's pieces are split by key into shards that combine on their own
    (:meth:`FeatureBuilder.combine_shard`); ``sequences`` are values whose sum in record order a feature's
    state needs (see ``riskscore._ordered_sum``).
    """

    rows: int
    inspected: int
    hits: int
    last_day: int | None
    categories: dict[str, tuple[Any, Any]]  # column -> (distinct values as text, records per value)
    pieces: dict[int, dict[str, Any]]  # shard -> feature name -> piece
    sequences: dict[str, Float]  # feature name -> values summed in record order

    def counts(self) -> PartialFit:
        """Return the counts alone (what the builder itself fits), without the features' pieces."""
        return PartialFit(self.rows, self.inspected, self.hits, self.last_day, self.categories, {}, {})


@dataclass
class FeatureBuilder:
    """Turn records of one spec into a float64 feature matrix for LightGBM.

    Parameters
    ----------
    spec
        The record spec (or the name of a built-in one).
    include_protected
        Protected columns to use as features anyway. Each inclusion is logged as a warning; the default
        keeps every protected attribute out of the model (docs/domain.md 3.5).
    min_category_count
        Categories seen fewer times in training share the rare-or-unseen bucket.
    smoothing
        Pseudo-inspections pulling a key's hit rate towards the overall rate.
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
    states_: dict[str, Any] = field(default_factory=dict)  # per derived feature: its kind's fitted state
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

    @property
    def record_spec(self) -> RecordSpec:
        """The spec, loaded."""
        assert isinstance(self.spec, RecordSpec)
        return self.spec

    def kinds(self) -> list[FeatureKind]:
        """Return the spec's derived features as kind objects, in spec order (built once)."""
        cached = self.__dict__.get("_kinds")
        if cached is None:
            cached = self.__dict__["_kinds"] = [KINDS[f.kind](f) for f in self.record_spec.features]
        return cached

    def settings(self) -> Settings:
        """Return the parameters kinds read."""
        return Settings(self.smoothing, self.reference_shrink, self.hit_rate_, self.min_category_count)

    @property
    def histories_(self) -> dict[str, EventTable]:
        """Fitted history tables of the keys themselves by feature name (read-only view of :attr:`states_`)."""
        return {k.name: self.states_[k.name].table for k in self.kinds() if k.state_key == "histories"}

    # -- column selection ------------------------------------------------------------------------------

    def _raw_columns(self) -> tuple[list[str], list[str]]:
        cats: list[str] = []
        nums: list[str] = []
        for col in self.record_spec.columns:
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
        n = len(frame)
        insp = np.zeros(n, bool) if inspected is None else np.asarray(inspected, dtype=bool)
        hit = np.zeros(n, bool) if hits is None else np.asarray(hits, dtype=bool) & insp
        self.hit_rate_ = float(hit.sum() / insp.sum()) if insp.any() else 0.0
        day = days(frame[self.record_spec.time_column])
        self.last_day_ = int(day.max()) if n else 0
        cats, nums = self._raw_columns()
        self.categorical_ = {}
        for name in cats:
            values, codes = text_codes(frame[name])
            counts = np.bincount(codes[codes >= 0], minlength=len(values))
            kept = sorted(str(v) for v, c in zip(values, counts, strict=True) if c >= self.min_category_count)
            self.categorical_[name] = kept
        self.raw_numeric_ = list(nums)
        self.states_ = {}
        self.__dict__.pop("_one_plan", None)  # the one-record plan follows the fitted state
        out = self._features(Batch(frame, day, {}, True, insp, hit))
        self.fitted_ = True
        self._compact()  # keep only the recent daily detail for scoring (collapsed totals before it)
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
        n = len(frame)
        insp = np.zeros(n, bool) if inspected is None else np.asarray(inspected, dtype=bool)
        hit = np.zeros(n, bool) if hits is None else np.asarray(hits, dtype=bool) & insp
        day = days(frame[self.record_spec.time_column])
        batch = Batch(frame, day, {}, False, insp, hit)
        for kind in self.kinds():
            if kind.name in self.states_:
                self.states_[kind.name] = kind.extend(self.states_[kind.name], batch)
        if n:
            self.last_day_ = max(self.last_day_, int(day.max()))
        self._compact()
        self.__dict__.pop("_one_plan", None)  # the one-record plan follows the fitted state

    def _compact(self) -> None:
        for kind in self.kinds():
            if kind.name in self.states_:
                self.states_[kind.name] = kind.compact(
                    self.states_[kind.name], self.last_day_ + 1, self.history_keep_days
                )

    def transform(self, frame: pd.DataFrame) -> Float:
        """Features of new records from the stored state; each row depends only on itself."""
        if not self.fitted_:
            raise RuntimeError("FeatureBuilder is not fitted; call fit_transform on training history first")
        return self._features(Batch(frame, days(frame[self.record_spec.time_column]), {}, False))

    # -- the fitted state from partitions (riskscore.distributed) ---------------------------------------
    #
    # fit_transform on a frame = start_fit(partial_fit of each part, counts) + for each pass of
    # fit_passes(): partial_fit of each part, combine_shard per shard, assemble_states; then finish_fit,
    # transform_training of each part (its rows of fit_transform's matrix) and compact_history. The state is
    # exactly the one fit_transform fits on the parts joined in order (tests/distributed).

    def fit_passes(self) -> list[list[str]]:
        """Return the features with a fitted state, grouped by the pass over the data that can fit them.

        A feature whose input is the value of another fitted feature (a reference of a reference) needs that
        feature's state first, so it is fitted one pass later.
        """
        ready: dict[str, int] = {}  # single-valued feature -> passes after which its values are known
        passes: list[list[str]] = []
        for kind in self.kinds():
            need = max((ready[i] for i in kind.feat.inputs if i in ready), default=0)
            done = need
            if kind.state_key is not None:
                passes.extend([] for _ in range(need + 1 - len(passes)))
                passes[need].append(kind.name)
                done = need + 1
            if kind.single:
                ready[kind.name] = done
        return passes

    def partial_fit(
        self,
        frame: pd.DataFrame,
        *,
        inspected: np.ndarray | None = None,
        hits: np.ndarray | None = None,
        features: Sequence[str] = (),
        shards: int = 1,
    ) -> PartialFit:
        """Return one part's share of the fitted state: the counts, and the pieces of ``features``.

        Parameters
        ----------
        frame, inspected, hits
            One part of the training records, as for :meth:`fit_transform`.
        features
            The features of one of :meth:`fit_passes` (the states of earlier passes must be set).
        shards
            Number of shards the features' pieces are split into by key.
        """
        n = len(frame)
        insp = np.zeros(n, bool) if inspected is None else np.asarray(inspected, dtype=bool)
        hit = np.zeros(n, bool) if hits is None else np.asarray(hits, dtype=bool) & insp
        day = days(frame[self.record_spec.time_column])
        cats, _ = self._raw_columns()
        partial = PartialFit(
            n,
            int(insp.sum()),
            int(hit.sum()),
            int(day.max()) if n else None,
            {name: level_counts(frame[name]) for name in cats},
            {s: {} for s in range(shards)},
            {},
        )
        batch = Batch(frame, day, {}, True, insp, hit)
        settings = self.settings()
        wanted = set(features)
        singles = {k.name for k in self.kinds() if k.single}
        for kind in self.kinds():
            if kind.name in wanted:
                pieces, sequence = kind.partial_state(batch, settings, shards)
                for s, piece in pieces.items():
                    partial.pieces[s][kind.name] = piece
                if sequence is not None:
                    partial.sequences[kind.name] = sequence
            elif kind.single and (kind.state_key is None or kind.name in self.states_):
                if all(i in batch.derived for i in kind.feat.inputs if i in singles):
                    # its training values, for later features' pieces (as fit_transform computes them)
                    values, _ = kind.compute(batch, settings, self.states_.get(kind.name))
                    batch.derived[kind.name] = values[kind.name]
        return partial

    def start_fit(self, partials: Sequence[PartialFit]) -> None:
        """Fit what the builder itself keeps from every part's counts (:meth:`PartialFit.counts`)."""
        inspected = sum(p.inspected for p in partials)
        hits = sum(p.hits for p in partials)
        self.hit_rate_ = float(np.int64(hits) / np.int64(inspected)) if inspected else 0.0
        self.last_day_ = max((p.last_day for p in partials if p.last_day is not None), default=0)
        cats, nums = self._raw_columns()
        self.categorical_ = {}
        for name in cats:
            values, counts = add_counts([p.categories[name] for p in partials])
            kept = sorted(str(v) for v, c in zip(values, counts, strict=True) if c >= self.min_category_count)
            self.categorical_[name] = kept
        self.raw_numeric_ = list(nums)
        self.states_ = {}
        self.fitted_ = False
        self.__dict__.pop("_one_plan", None)

    def combine_shard(self, pieces: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Combine one shard's pieces of every part, given in part order: one combined piece per feature."""
        out: dict[str, Any] = {}
        for kind in self.kinds():
            mine = [p[kind.name] for p in pieces if kind.name in p]
            if mine:
                out[kind.name] = kind.combine_states(mine)
        return out

    def assemble_states(
        self,
        shards: Sequence[Mapping[str, Any]],
        features: Sequence[str],
        sums: Mapping[str, tuple[float, int]],
    ) -> None:
        """Set the fitted state of ``features`` from every shard's combined pieces and the ordered sums."""
        settings = self.settings()
        for kind in self.kinds():
            if kind.name in features:
                mine = [s[kind.name] for s in shards if kind.name in s]
                self.states_[kind.name] = kind.assemble_state(mine, settings, sums.get(kind.name))

    def finish_fit(self) -> None:
        """Mark the builder fitted once every state is set; the feature names follow from the spec."""
        names: dict[str, None] = dict.fromkeys(self.categorical_)
        names.update(dict.fromkeys(self.raw_numeric_))
        for kind in self.kinds():
            names.update(dict.fromkeys(kind.outputs()))
        self.feature_names_ = list(names)
        self.fitted_ = True
        self.__dict__.pop("_one_plan", None)

    def transform_training(self, frame: pd.DataFrame) -> Float:
        """Features of training records from the fitted state: their rows of :meth:`fit_transform`'s matrix.

        Call it before :meth:`compact_history`: records are left out of their own references and read the
        history of strictly earlier days from the full tables, exactly as in ``fit_transform``.
        """
        if not self.fitted_:
            raise RuntimeError("FeatureBuilder is not fitted; call fit_transform on training history first")
        day = days(frame[self.record_spec.time_column])
        return self._features(Batch(frame, day, {}, True), fit=False)

    def compact_history(self) -> None:
        """Keep only the recent daily detail of the history for scoring (``fit_transform`` does this itself)."""
        self._compact()
        self.__dict__.pop("_one_plan", None)

    def _features(self, batch: Batch, *, fit: bool | None = None) -> Float:
        fit = batch.training if fit is None else fit
        frame = batch.frame
        cols: dict[str, Any] = {}
        for name, kept in self.categorical_.items():
            values, codes = text_codes(frame[name])
            mapped = pd.Index(kept).get_indexer(pd.Index(values)) if len(values) else np.zeros(0, np.intp)
            mapped = np.where(mapped >= 0, mapped, len(kept))  # rare or unseen bucket
            cols[name] = np.where(codes >= 0, mapped[codes.clip(0)] if len(values) else 0, np.nan).astype(
                np.float64
            )
        for name in self.raw_numeric_:
            cols[name] = numeric(frame[name])
        settings = self.settings()
        for kind in self.kinds():
            values_, state = kind.compute(batch, settings, None if fit else self.states_.get(kind.name))
            if fit and kind.state_key is not None:
                self.states_[kind.name] = state
            if kind.single:
                batch.derived[kind.name] = values_[kind.name]
            cols.update(values_)
        if batch.training:
            self.feature_names_ = list(cols)
        missing = [c for c in self.feature_names_ if c not in cols]
        if missing:  # pragma: no cover - same spec, same code path
            raise RuntimeError(f"features {missing} were not produced")
        X = np.empty((len(frame), len(self.feature_names_)), dtype=np.float64)
        for j, c in enumerate(self.feature_names_):
            X[:, j] = cols[c]
        return X

    # -- one record, without pandas ----------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle and copy without the one-record plan and kind objects (rebuilt on first use)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_one_plan", "_kinds")}

    def _plan(self) -> FeaturePlan:
        """Return the compiled one-record plan for the current fitted state (built on first use)."""
        plan = self.__dict__.get("_one_plan")
        if plan is None:
            plan = FeaturePlan(self)
            self.__dict__["_one_plan"] = plan
        return plan

    def plan(self) -> FeaturePlan:
        """Return the compiled one-record plan (its ``source`` shows the generated code)."""
        if not self.fitted_:
            raise RuntimeError("FeatureBuilder is not fitted; call fit_transform on training history first")
        return self._plan()

    def row_one(self, record: dict[str, Any]) -> list[float]:
        """:meth:`transform_one` as a plain list of floats (the fastest form for the single-row predictor)."""
        return self.plan().row(record)

    def transform_one(self, record: dict[str, Any]) -> Float:
        """Features of one record given as already-coerced Python values, without pandas.

        Same arithmetic as :meth:`transform`, so the result is identical bit for bit (tested); the
        caller (``RiskModel.predict_one``) is responsible for type checks. Values: floats and ints for
        numbers, ``bool`` for flags, ``str`` for categories, ``numpy.datetime64`` for the time column,
        ``None`` for missing.
        """
        return np.array([self.row_one(record)], dtype=np.float64)

    def unseen_rates(self, X: Float) -> dict[str, float]:
        """Share of rows whose key has no earlier record, per history feature, from built features ``X``.

        A history feature's ``<name>_count`` is 0 exactly when its key (an importer, a broker, a pair...) has
        no record on an earlier day in the stored history. A high share in a batch of regular traffic
        usually means ids arrive in another form than in training (spaces, case, another code list).
        """
        rates: dict[str, float] = {}
        for kind in self.kinds():
            name = f"{kind.name}_count"
            if kind.kind == "history" and name in self.feature_names_ and len(X):
                column = X[:, self.feature_names_.index(name)]
                rates[kind.name] = float(np.count_nonzero(column == 0.0) / len(X))
        return rates

    # -- persistence -----------------------------------------------------------------------------------

    @property
    def categorical_features(self) -> list[str]:
        """Names of the features LightGBM must treat as categorical (integer codes)."""
        derived = {out for kind in self.kinds() if kind.categorical for out in kind.outputs()}
        return [c for c in self.feature_names_ if c in self.categorical_ or c in derived]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (arrays base64-encoded); no code, no pickle.

        Each kind's fitted state sits under the kind's ``state_key`` (``references``, ``gaps``,
        ``histories``), by feature name: the layout of format version 1, which older readers expect.
        """
        out: dict[str, Any] = {
            "spec_fingerprint": self.record_spec.fingerprint(),
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
            "references": {},
            "gaps": {},
            "histories": {},
        }
        for kind in self.kinds():
            if kind.state_key is not None and kind.name in self.states_:
                out.setdefault(kind.state_key, {})[kind.name] = kind.state_to_json(self.states_[kind.name])
        out["hit_rate"] = self.hit_rate_
        out["last_day"] = self.last_day_
        return out

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
        fb.states_ = {
            kind.name: kind.state_from_json(d[kind.state_key][kind.name])
            for kind in fb.kinds()
            if kind.state_key is not None
        }
        fb.hit_rate_ = float(d["hit_rate"])
        fb.last_day_ = int(d["last_day"])
        fb.fitted_ = True
        return fb
