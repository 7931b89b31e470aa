"""``ratio``: a / b where b > 0 (tax over customs value, net over gross weight)."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskscore.features._common import Float
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter


class Ratio(FeatureKind):
    """``a / b`` where ``b > 0``; NaN otherwise or where it is not finite."""

    kind = "ratio"
    arity = (2, 2)

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        a, b = (batch.value(i) for i in self.feat.inputs)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            v = np.where(b > 0, a / b, np.nan)
        return {self.name: np.where(np.isfinite(v), v, np.nan)}, state

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        lines = w.number(self.feat.inputs[0], i, "a") + w.number(self.feat.inputs[1], i, "b")
        lines += ["v = a / b if b > 0.0 else NAN", "if v - v != 0.0:", "    v = NAN"]  # inf or nan -> nan
        return lines + w.store(self.name, i)
