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

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        feat = self.feat
        x = batch.value(feat.inputs[0])
        if feat.inputs[0] not in batch.derived:  # a raw amount: compare in logs
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                x = np.log(np.where(x > 0, x, np.nan))
        ok = np.isfinite(x)
        keys = [hash_key(batch.frame, level) for level in feat.by]
        if state is None:
            levels = []
            for k in keys:
                order = np.argsort(k[ok], kind="stable")
                kk, xx = k[ok][order], x[ok][order]
                uniq, first = np.unique(kk, return_index=True)
                sums = np.add.reduceat(xx, first) if len(xx) else np.zeros(0)
                counts = np.diff(np.append(first, len(kk))).astype(np.float64)
                levels.append((uniq, sums, counts))
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
