"""``group_max_gap``: how far a record's rate is below the highest typical rate of its group's codes.

Duty gap within the HS heading (docs/domain.md 2.2, S2 misclassification: a TV declared as a monitor to pay 0%
instead of 8%): the typical (median) duty of each code with at least 5 training records, the highest of
them per group, minus the record's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore._hashing import hash_key
from riskscore.features._common import Float, decode, encode, lookup_sorted, numeric
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from riskscore.spec import DerivedFeature, RecordSpec


class GroupMaxGap(FeatureKind):
    """``max(highest typical value of the group's codes - the record's value, 0)``."""

    kind = "group_max_gap"
    arity = (1, 1)
    state_key = "gaps"

    @classmethod
    def check(cls, feat: DerivedFeature, where: str) -> str | None:
        if not (feat.key and feat.group):
            return f"{where}: a group_max_gap feature needs `key` and `group`"
        return None

    def fields(self, resolve: Callable[[str], tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        # explained by the code whose rate is compared (the HS code), not by the rate column
        return {self.name: (self.feat.key.split(":")[0],)}

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        feat = self.feat
        value = numeric(batch.frame[feat.inputs[0]])  # the declared rate (the one-record step reads it too)
        group = hash_key(batch.frame, (feat.group,))
        if state is None:
            code = hash_key(batch.frame, (feat.key,))
            typical = pd.Series(value).groupby([group, code]).median()
            counts = pd.Series(value).groupby([group, code]).size()
            state = _gap_state(typical, counts)
        gap_keys, gap_max = state
        idx, found = lookup_sorted(gap_keys, group)
        top = np.where(found, gap_max[idx] if len(gap_max) else 0.0, value)
        return {self.name: np.maximum(top - value, 0.0)}, state

    def partial_state(
        self, batch: Batch, settings: Settings, shards: int
    ) -> tuple[dict[int, Any], Float | None]:
        # each (group, code, value) and how often it occurs: the median needs every value, not a sum
        value = numeric(batch.frame[self.feat.inputs[0]])
        group = hash_key(batch.frame, (self.feat.group,))
        code = hash_key(batch.frame, (self.feat.key,))
        pieces: dict[int, Any] = {}
        for s in range(shards):
            mine = group % np.uint64(shards) == s
            pieces[s] = _histogram(group[mine], code[mine], value[mine], np.ones(int(mine.sum()), np.int64))
        return pieces, None

    def combine_states(self, pieces: list[Any]) -> Any:
        group, code, value, n = (np.concatenate([p[i] for p in pieces]) for i in range(4))
        group, code, value, n = _histogram(group, code, value, n)
        counts = pd.Series(n).groupby([group, code]).sum()  # records per code, a missing value included
        valid = ~np.isnan(value)
        group, code, value, n = group[valid], code[valid], value[valid], n[valid]
        order = np.lexsort((value, code, group))
        group, code, value, n = group[order], code[order], value[order], n[order]
        first = np.ones(len(group), dtype=bool)
        first[1:] = (group[1:] != group[:-1]) | (code[1:] != code[:-1])
        starts = np.flatnonzero(first)
        cum = np.cumsum(n)
        before = cum[starts] - n[starts]
        m = cum[np.append(starts[1:], len(n)) - 1] - before if len(starts) else np.zeros(0, np.int64)
        # pandas' median of m values: the (m // 2)-th smallest, or its mean with the one below when m is even
        hi = value[np.searchsorted(cum, before + m // 2, side="right")] if len(starts) else np.zeros(0)
        lo = value[np.searchsorted(cum, before + (m - 1) // 2, side="right")] if len(starts) else np.zeros(0)
        median = np.where(m % 2 == 1, hi, (hi + lo) / 2)
        index = pd.MultiIndex.from_arrays([group[starts], code[starts]])
        typical = pd.Series(median, index=index).reindex(counts.index)  # codes with no value: NaN
        return _gap_state(typical, counts)

    def assemble_state(
        self, shards: list[Any], settings: Settings, ordered_sum: tuple[float, int] | None
    ) -> Any:
        keys = np.concatenate([s[0] for s in shards])
        order = np.argsort(keys)
        return keys[order], np.concatenate([s[1] for s in shards])[order]

    def state_to_json(self, state: Any) -> Any:
        return [encode(state[0]), encode(state[1])]

    def state_from_json(self, data: Any) -> Any:
        return (decode(data[0]), decode(data[1]))

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        keys, gmax = state
        table = w.const(f"GAP{i}", dict(zip(keys.tolist(), gmax.tolist(), strict=True)))
        lines = [
            f"x = get({w.const(f'GIN{i}', self.feat.inputs[0])})",  # the declared value, as the batch reads it
            "value = NAN if x is None else float(x)",
            f"top = {table}.get({w.key((self.feat.group,))}, value)",
            "v = max(top - value, 0.0)",
        ]
        return lines + w.store(self.name, i)

    def sentence(self, output: str, value: float, record: Any, spec: RecordSpec) -> str | None:
        code = spec.column(self.feat.key.split(":")[0])
        rate = spec.column(self.feat.inputs[0])
        return (
            f"{code.display} {record.get(code.name)}: {rate.display.lower()} {value * 100:.0f} points below "
            "the highest usual rate of related codes"
        )


def _gap_state(typical: pd.Series, counts: pd.Series) -> tuple[NDArray[np.uint64], Float]:
    """Per group, the highest typical value of its codes with at least 5 records: sorted keys and values."""
    typical = typical[counts >= 5]
    gmax = typical.groupby(level=0).max()
    keys = gmax.index.to_numpy(dtype=np.uint64)
    order = np.argsort(keys)
    return keys[order], np.asarray(gmax.to_numpy(dtype=np.float64)[order], dtype=np.float64)


def _histogram(
    group: NDArray[np.uint64], code: NDArray[np.uint64], value: Float, n: NDArray[np.int64]
) -> tuple[NDArray[np.uint64], NDArray[np.uint64], Float, NDArray[np.int64]]:
    """Distinct (group, code, value) triples (a missing value is one) and how many records hold each."""
    frame = pd.DataFrame({"g": group, "c": code, "v": value, "n": n})
    sums = frame.groupby(["g", "c", "v"], dropna=False, sort=False)["n"].sum()
    return (
        sums.index.get_level_values(0).to_numpy(dtype=np.uint64),
        sums.index.get_level_values(1).to_numpy(dtype=np.uint64),
        sums.index.get_level_values(2).to_numpy(dtype=np.float64),
        sums.to_numpy(dtype=np.int64),
    )
