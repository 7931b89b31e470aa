"""Per-entity daily history tables: what a history feature knows of each key, strictly before a day."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskscore.features._common import U64, Float, decode, encode, lookup_sorted

__all__ = ["EventTable"]


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

    @classmethod
    def union(cls, tables: list[EventTable]) -> EventTable:
        """Return the table of all the tables' events (the counts are whole numbers: exact in any order)."""
        rows = [t.increments() for t in tables]
        if not rows:
            return cls.from_counts(np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64))
        return cls.from_counts(
            np.concatenate([k for k, _, _ in rows]),
            np.concatenate([d for _, d, _ in rows]),
            np.vstack([c for _, _, c in rows]),
        )

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
        kidx, found = lookup_sorted(self.keys, key)
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
            "keys": encode(self.keys),
            "start": encode(self.start),
            "day": encode(self.day),
            "cum": encode(self.cum),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventTable:
        """Inverse of :meth:`to_dict`."""
        return cls(decode(d["keys"]), decode(d["start"]), decode(d["day"]), decode(d["cum"]))
