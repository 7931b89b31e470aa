"""``log_ratio``: the log of a / b (unit value = log(value / quantity)), the scale customs compares prices on."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskscore.features._common import EPS, Float
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter


class LogRatio(FeatureKind):
    """``log((a + eps) / (b + eps))``; NaN where it is not finite."""

    kind = "log_ratio"
    arity = (2, 2)

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        a, b = (batch.value(i) for i in self.feat.inputs)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            v = np.log((a + EPS) / (b + EPS))
        return {self.name: np.where(np.isfinite(v), v, np.nan)}, state

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        lines = w.number(self.feat.inputs[0], i, "a") + w.number(self.feat.inputs[1], i, "b")
        lines += [
            "q = (a + EPS) / (b + EPS) if b + EPS != 0.0 else NAN",
            "v = LN(q) if q > 0.0 and q != INF else NAN",  # log of a positive finite q is finite
        ]
        return lines + w.store(self.name, i)
