"""``history``: what earlier records say about a key (an importer, a broker, an importer x HS pair).

Prior record count, smoothed prior hit rate (``(hits + smoothing x prior) / (inspected + smoothing)``),
optionally days since the key was first seen, counts in recent day windows and their spike (docs/domain.md
2.2: S6 phantom importers, S7 complicit brokers; DATE's RiskH features). Only records of strictly earlier
days count, in training and in scoring alike (one code path: :meth:`EventTable.lookup`), so no label leaks
from a record into its own features.

The prior is the overall hit rate, or with ``by`` (backoff levels, finest first, as a reference feature's)
an empirical-Bayes chain: the coarsest level's hit rate shrunk toward the overall rate, each finer level's
toward the coarser one's, the key's own toward the finest level's. A new importer then starts from what
its broker, its goods and their origin showed (docs/domain.md 2.2, S6 and S7) instead of one "unseen"
value, and an importer with two inspections is read in that light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from riskscore._hashing import hash_key
from riskscore.features._common import Float
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.events import EventTable
from riskscore.features.plan import PlanWriter

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.spec import DerivedFeature, RecordSpec

_NAN = float("nan")
_MEMO_LIMIT = 50_000  # memoised history values per feature: (entity, day, prior) -> a few floats


@dataclass
class KeyHistory:
    """A history feature's fitted state: the key's daily table and one table per backoff level."""

    table: EventTable
    backoff: tuple[EventTable, ...] = ()


class History(FeatureKind):
    """Outputs ``<name>_count``, ``_hit_rate``, [``_days_since_first``], ``_count_<w>d``..., [``_spike``]."""

    kind = "history"
    arity = (1, 3)
    state_key = "histories"
    single = False
    keyed_inputs = True

    @classmethod
    def check(cls, feat: DerivedFeature, where: str) -> str | None:
        if any(w < 1 for w in feat.windows):
            return f"{where}: windows must be whole days >= 1, got {list(feat.windows)}"
        return None

    def fields(self, resolve: Callable[[str], tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        out = super().fields(resolve)
        if self.feat.by:  # the hit rate also reads the backoff levels' records
            levels = [f for level in self.feat.by for item in level for f in resolve(item)]
            rate = f"{self.name}_hit_rate"
            out[rate] = tuple(dict.fromkeys([*out[rate], *levels]))
        return out

    def outputs(self) -> list[str]:
        n, feat = self.name, self.feat
        names = [f"{n}_count", f"{n}_hit_rate"]
        names += [f"{n}_days_since_first"] if feat.first_seen else []
        names += [f"{n}_count_{w}d" for w in feat.windows]
        names += [f"{n}_spike"] if len(feat.windows) >= 2 else []
        return names

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        feat, n = self.feat, self.name
        key = hash_key(batch.frame, feat.inputs)
        if state is None:
            assert batch.inspected is not None and batch.hits is not None
            state = KeyHistory(
                EventTable.build(key, batch.day, batch.inspected, batch.hits),
                tuple(
                    EventTable.build(hash_key(batch.frame, level), batch.day, batch.inspected, batch.hits)
                    for level in feat.by
                ),
            )
        h = state.table.lookup(key, batch.day, feat.windows)
        out = {f"{n}_count": h["count"]}
        smooth = settings.smoothing
        prior: Float | float = settings.hit_rate
        for table, level in zip(reversed(state.backoff), reversed(feat.by), strict=True):  # coarse to fine
            b = table.lookup(hash_key(batch.frame, level), batch.day)
            prior = (b["hits"] + smooth * prior) / (b["inspected"] + smooth)
        out[f"{n}_hit_rate"] = np.asarray((h["hits"] + smooth * prior) / (h["inspected"] + smooth))
        if feat.first_seen:
            out[f"{n}_days_since_first"] = h["days_since_first"]
        for w in feat.windows:
            out[f"{n}_count_{w}d"] = h[f"count_{w}d"]
        if len(feat.windows) >= 2:
            short, long_ = feat.windows[0], feat.windows[-1]
            out[f"{n}_spike"] = h[f"count_{short}d"] / (h[f"count_{long_}d"] * short / long_ + 1.0)
        return out, state

    def extend(self, state: KeyHistory, batch: Batch) -> KeyHistory:
        assert batch.inspected is not None and batch.hits is not None

        def grown(table: EventTable, columns: tuple[str, ...]) -> EventTable:
            assert batch.inspected is not None and batch.hits is not None
            new = EventTable.build(hash_key(batch.frame, columns), batch.day, batch.inspected, batch.hits)
            return table.merge(new)

        return KeyHistory(
            grown(state.table, self.feat.inputs),
            tuple(grown(t, level) for t, level in zip(state.backoff, self.feat.by, strict=True)),
        )

    def partial_state(
        self, batch: Batch, settings: Settings, shards: int
    ) -> tuple[dict[int, Any], Float | None]:
        assert batch.inspected is not None and batch.hits is not None
        keys = [hash_key(batch.frame, self.feat.inputs)] + [
            hash_key(batch.frame, lvl) for lvl in self.feat.by
        ]
        pieces: dict[int, Any] = {}
        for s in range(shards):
            tables = []
            for key in keys:
                mine = key % np.uint64(shards) == s
                tables.append(
                    EventTable.build(key[mine], batch.day[mine], batch.inspected[mine], batch.hits[mine])
                )
            pieces[s] = tables
        return pieces, None

    def combine_states(self, pieces: list[Any]) -> Any:
        return [EventTable.union([p[i] for p in pieces]) for i in range(1 + len(self.feat.by))]

    def assemble_state(
        self, shards: list[Any], settings: Settings, ordered_sum: tuple[float, int] | None
    ) -> KeyHistory:
        tables = [EventTable.union([s[i] for s in shards]) for i in range(1 + len(self.feat.by))]
        return KeyHistory(tables[0], tuple(tables[1:]))

    def compact(self, state: KeyHistory, as_of_day: int, keep_days: int) -> KeyHistory:
        return KeyHistory(
            state.table.compact(as_of_day, keep_days),
            tuple(t.compact(as_of_day, keep_days) for t in state.backoff),
        )

    def state_to_json(self, state: KeyHistory) -> Any:
        out = state.table.to_dict()  # the layout of format version 1, plus the backoff tables if any
        if state.backoff:
            out["backoff"] = [t.to_dict() for t in state.backoff]
        return out

    def state_from_json(self, data: Any) -> KeyHistory:
        backoff = tuple(EventTable.from_dict(t) for t in data.get("backoff", ()))
        if len(backoff) != len(self.feat.by):
            raise ValueError(
                f"history feature {self.name!r} stores {len(backoff)} backoff tables for {len(self.feat.by)} "
                "levels"
            )
        return KeyHistory(EventTable.from_dict(data), backoff)

    def emit(self, w: PlanWriter, i: int, state: KeyHistory, settings: Settings) -> list[str]:
        slots = [w.pos[name] for name in self.outputs()]
        lines = ["prior = " + w.const(f"PRIOR{i}", float(settings.hit_rate))]
        levels = list(zip(reversed(state.backoff), reversed(self.feat.by), strict=True))
        for lvl, (table, level) in enumerate(levels):  # coarse to fine, as the batch path
            counts = w.const(f"BACK{i}_{lvl}", _prior_counts(table))
            lines += [
                f"c = {counts}({w.key(tuple(level))}, day)",
                f"prior = (c[1] + SMOOTH{i} * prior) / (c[0] + SMOOTH{i})",
            ]
        w.const(f"SMOOTH{i}", float(settings.smoothing))
        values = w.const(f"HIST{i}", _history_values(state.table, self.feat, settings))
        names = ", ".join(f"h{n}" for n in range(len(slots)))
        lines.append(
            f"{names}{',' if len(slots) == 1 else ''} = {values}({w.key(tuple(self.feat.inputs))}, day, prior)"
        )
        return lines + [f"out[{j}] = h{n}" for n, j in enumerate(slots)]

    def sentence(self, output: str, value: float, record: Any, spec: RecordSpec) -> str | None:
        who = key_text(spec, self.feat.inputs, record)
        part = output[len(self.name) + 1 :]
        finite = value == value and abs(value) != float("inf")
        n = f"{round(value):,}" if finite else "unknown"
        if part == "count":
            return f"{who}: {n} earlier records on file"
        if part == "hit_rate" and self.feat.by:
            levels = ", ".join(key_text(spec, level, record) for level in self.feat.by)
            return (
                f"{who}: violations expected at a {value * 100:.1f}% rate from its past inspections "
                f"and those of {levels}"
            )
        if part == "hit_rate":
            return f"{who}: past inspections found violations at a {value * 100:.1f}% rate"
        if part == "days_since_first":
            return f"{who}: first seen {n} days ago"
        if part == "spike":
            return f"{who}: records in the latest days run at {value:.2f} times the usual pace"
        if part.startswith("count_") and part.endswith("d"):
            return f"{who}: {n} records in the previous {part[6:-1]} days"
        return None  # pragma: no cover - every output is covered above

    def unseen_outputs(self) -> dict[str, str]:
        # a key without earlier records has no hit rate or age of its own: the model sees the overall rate
        # (with backoff, its levels' rate, still said as "no earlier records" for the key) and a missing age
        meaningless = ("_hit_rate", "_days_since_first")
        return {o: f"{self.name}_count" for o in self.outputs() if o.endswith(meaningless)}

    def no_history(self, record: Any, spec: RecordSpec) -> str:
        return f"{key_text(spec, self.feat.inputs, record)}: no earlier records on file"


def key_text(spec: RecordSpec, inputs: tuple[str, ...], record: Any) -> str:
    """Return a key's fields by their labels with the record's values: ``Importer IM000284 / HS 620330``."""
    parts = []
    for item in inputs:
        name, _, cut = item.partition(":")
        value = record.get(name)
        text = "unknown" if value is None or value != value else str(value)
        parts.append(f"{spec.column(name).display} {text[: int(cut)] if cut and text != 'unknown' else text}")
    return " / ".join(parts)


def _prior_counts(table: EventTable) -> Callable[[int, int], tuple[float, float]]:
    """Return a function (key, day) -> (inspected, hits) strictly before the day, as EventTable.lookup."""
    positions = dict(zip(table.keys.tolist(), range(len(table.keys)), strict=True))
    start, days_all, cum = table.start, table.day, table.cum
    memo: dict[tuple[int, int], tuple[float, float]] = {}  # bounded

    def lookup(key: int, day: int) -> tuple[float, float]:
        values = memo.get((key, day))
        if values is None:
            at = positions.get(key)
            values = (0.0, 0.0)
            if at is not None:
                lo, hi = int(start[at]), int(start[at + 1])
                p = lo + int(days_all[lo:hi].searchsorted(max(day, 0), side="left"))
                if p > lo:
                    values = (float(cum[p - 1, 1]), float(cum[p - 1, 2]))
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key, day] = values
        return values

    return lookup


def _history_values(
    table: EventTable, feat: DerivedFeature, settings: Settings
) -> Callable[[int, int, float], tuple[float, ...]]:
    """Return a function (entity key, day, prior) -> the history feature values, memoised.

    The values, in :meth:`History.outputs` order: the batch path's EventTable.lookup and
    :meth:`History.compute` arithmetic on floats. ``prior`` is the rate the hit rate is shrunk toward.
    """
    positions = dict(zip(table.keys.tolist(), range(len(table.keys)), strict=True))
    start, days_all, cum = table.start, table.day, table.cum
    windows = tuple(feat.windows)
    smooth = float(settings.smoothing)
    first_seen = bool(feat.first_seen)
    spike = (windows[0], windows[-1]) if len(windows) >= 2 else None
    empty = len(days_all) == 0
    memo: dict[tuple[int, int, float], tuple[float, ...]] = {}  # bounded

    def compute(entity: int, day: int, prior: float) -> tuple[float, ...]:
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

    def lookup(entity: int, day: int, prior: float) -> tuple[float, ...]:
        values = memo.get((entity, day, prior))
        if values is None:
            values = compute(entity, day, prior)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[entity, day, prior] = values
        return values

    return lookup
