"""``reference``: a value against the training reference of its group, backing off to coarser groups.

Unit value against HS6 x origin, falling back to HS4 and HS2 (docs/domain.md 2.2, S1 undervaluation and S4
quantity misdeclaration; the WCO valuation guidance warns a gap is a signal, not proof). The reference of a
group is the mean log value of its training records, shrunk towards the coarser group's by
``reference_shrink`` pseudo-records; in training a record is left out of its own reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from riskscore._hashing import hash_key
from riskscore.features._common import U64, Float, decode, encode, lookup_sorted
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from riskscore.spec import DerivedFeature, RecordSpec


@dataclass
class ReferenceState:
    """Per level (finest first): sorted group keys, sums and counts of log values; the overall mean."""

    levels: list[tuple[U64, Float, Float]]
    global_mean: float


class Reference(FeatureKind):
    """Log deviation of the input (a derived log value, or the log of a declared amount) from its reference."""

    kind = "reference"
    arity = (1, 1)
    state_key = "references"

    @classmethod
    def check(cls, feat: DerivedFeature, where: str) -> str | None:
        if not feat.by:
            return f'{where}: a reference feature needs `by`, e.g. by = [["hs_code"], ["hs_code:4"]]'
        return None

    def fields(self, resolve: Callable[[str], tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        # explained by the value compared, not by the grouping columns that define the comparison
        return {self.name: resolve(self.feat.inputs[0])}

    def _values(self, batch: Batch) -> Float:
        x = batch.value(self.feat.inputs[0])
        if self.feat.inputs[0] not in batch.derived:  # a raw amount: compare in logs
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                x = np.log(np.where(x > 0, x, np.nan))
        return x

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        feat = self.feat
        x = self._values(batch)
        ok = np.isfinite(x)
        keys = [hash_key(batch.frame, level) for level in feat.by]
        if state is None:
            levels = [_level_sums(k[ok], x[ok]) for k in keys]
            state = ReferenceState(levels, float(np.nanmean(x[ok])) if ok.any() else 0.0)
        s = settings.reference_shrink
        ref = np.full(len(x), state.global_mean)
        for (uniq, sums, counts), k in zip(reversed(state.levels), reversed(keys), strict=True):
            idx, found = lookup_sorted(uniq, k)
            total = np.where(found, sums[idx] if len(sums) else 0.0, 0.0)
            n = np.where(found, counts[idx] if len(counts) else 0.0, 0.0)
            if batch.training:  # leave the record itself out of its own reference
                total = total - np.where(ok & found, x, 0.0)
                n = n - (ok & found)
            mean = np.where(n > 0, total / np.maximum(n, 1.0), 0.0)
            ref = np.where(n > 0, (n * mean + s * ref) / (n + s), ref)
        return {self.name: np.where(ok, x - ref, np.nan)}, state

    def partial_state(
        self, batch: Batch, settings: Settings, shards: int
    ) -> tuple[dict[int, Any], Float | None]:
        x = self._values(batch)
        ok = np.isfinite(x)
        keys = [hash_key(batch.frame, level)[ok] for level in self.feat.by]
        x = x[ok]
        pieces: dict[int, Any] = {}
        for s in range(shards):
            pieces[s] = [(k[mine], x[mine]) for k in keys for mine in [k % np.uint64(shards) == s]]
        return pieces, x  # the overall mean sums every finite value in record order

    def combine_states(self, pieces: list[Any]) -> Any:
        # a key's values all sit in this shard, in record order: the same sums as on the whole frame
        return [
            _level_sums(np.concatenate([p[i][0] for p in pieces]), np.concatenate([p[i][1] for p in pieces]))
            for i in range(len(self.feat.by))
        ]

    def assemble_state(
        self, shards: list[Any], settings: Settings, ordered_sum: tuple[float, int] | None
    ) -> ReferenceState:
        levels = []
        for i in range(len(self.feat.by)):
            uniq = np.concatenate([s[i][0] for s in shards])
            order = np.argsort(uniq, kind="stable")
            levels.append(
                (
                    uniq[order],
                    np.concatenate([s[i][1] for s in shards])[order],
                    np.concatenate([s[i][2] for s in shards])[order],
                )
            )
        assert ordered_sum is not None
        total, count = ordered_sum
        # np.nanmean: the pairwise sum over the finite values divided by their count
        mean = float(np.float64(total) / np.intp(count)) if count else 0.0
        return ReferenceState(levels, mean)

    def state_to_json(self, state: ReferenceState) -> Any:
        return {
            "global_mean": state.global_mean,
            "levels": [[encode(u), encode(s), encode(c)] for u, s, c in state.levels],
        }

    def state_from_json(self, data: Any) -> ReferenceState:
        return ReferenceState(
            [(decode(u), decode(s), decode(c)) for u, s, c in data["levels"]], float(data["global_mean"])
        )

    def emit(self, w: PlanWriter, i: int, state: ReferenceState, settings: Settings) -> list[str]:
        source = self.feat.inputs[0]
        if source in w.derived:
            lines = [f"x = {w.derived[source]}"]
        else:  # a raw amount: compare in logs
            lines = [
                f"x = get({w.const(f'RIN{i}', source)})",
                "x = LN(float(x)) if x is not None and x > 0.0 else NAN",
            ]
        w.const(f"GM{i}", float(state.global_mean))
        w.const(f"SHRINK{i}", settings.reference_shrink)
        lines.append(f"ref = GM{i}")
        levels = list(zip(reversed(state.levels), reversed(self.feat.by), strict=True))
        for lvl, ((uniq, sums, counts), by) in enumerate(levels):  # coarse to fine, as the batch path
            table = {
                k: (n, s / max(n, 1.0))
                for k, s, n in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True)
                if n > 0
            }
            lines += [
                f"hit = {w.const(f'REF{i}_{lvl}', table)}.get({w.key(tuple(by))})",
                "if hit is not None:",
                f"    ref = (hit[0] * hit[1] + SHRINK{i} * ref) / (hit[0] + SHRINK{i})",
            ]
        lines.append("v = x - ref if x - x == 0.0 else NAN")  # x - x is 0 exactly when x is finite
        return lines + w.store(self.name, i)

    def sentence(self, output: str, value: float, record: Any, spec: RecordSpec) -> str | None:
        if not (math.isfinite(value) and abs(value) < 50):
            return None
        source = self.feat.inputs[0]
        derived = {f.name: f for f in spec.features}
        columns = {c.name for c in spec.columns}
        what = derived[source].description if source in derived else ""
        what = what or (spec.column(source).display if source in columns else source.replace("_", " "))
        groups = " / ".join(spec.column(c.partition(":")[0]).display for c in self.feat.by[0])
        direction = "above" if value > 0 else "below"
        pct = round(abs(math.expm1(value)) * 100)
        return f"{what[:1].upper() + what[1:]} is {pct:,}% {direction} the usual for its {groups}"


def _level_sums(k: U64, x: Float) -> tuple[U64, Float, Float]:
    """Sorted distinct keys, the sum and the count of their values (a key's values added in record order)."""
    order = np.argsort(k, kind="stable")
    kk, xx = k[order], x[order]
    uniq, first = np.unique(kk, return_index=True)
    sums = np.add.reduceat(xx, first) if len(xx) else np.zeros(0)
    counts = np.diff(np.append(first, len(kk))).astype(np.float64)
    return uniq, sums, counts
