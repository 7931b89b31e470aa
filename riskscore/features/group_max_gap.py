"""``group_max_gap``: how far a record's rate is below the highest typical rate of its group's codes.

Duty gap within the HS heading (docs/domain.md 2.2, S2 misclassification: a TV declared as a monitor to pay 0%
instead of 8%): the typical (median) duty of each code with at least 5 training records, the highest of
them per group, minus the record's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

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
            typical = typical[counts >= 5]
            gmax = typical.groupby(level=0).max()
            keys = gmax.index.to_numpy(dtype=np.uint64)
            order = np.argsort(keys)
            state = (keys[order], np.asarray(gmax.to_numpy(dtype=np.float64)[order], dtype=np.float64))
        gap_keys, gap_max = state
        idx, found = lookup_sorted(gap_keys, group)
        top = np.where(found, gap_max[idx] if len(gap_max) else 0.0, value)
        return {self.name: np.maximum(top - value, 0.0)}, state

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
