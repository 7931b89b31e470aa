"""``calendar``: day of the week and hour of a time (not the month, which a year of history saw once)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskscore.features._common import Float
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter


class Calendar(FeatureKind):
    """Outputs ``<name>_day_of_week`` (Monday = 0) and ``<name>_hour``."""

    kind = "calendar"
    arity = (1, 1)
    single = False

    def outputs(self) -> list[str]:
        return [f"{self.name}_day_of_week", f"{self.name}_hour"]

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        ts = pd.to_datetime(batch.frame[self.feat.inputs[0]])
        return {
            f"{self.name}_day_of_week": np.asarray(
                ts.dt.day_of_week.to_numpy(dtype=np.float64), dtype=np.float64
            ),
            f"{self.name}_hour": np.asarray(ts.dt.hour.to_numpy(dtype=np.float64), dtype=np.float64),
        }, state

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        j_dow, j_hour = (w.pos[name] for name in self.outputs())
        if self.feat.inputs[0] == w.time_column:
            lines = ["t = ns"]
        else:  # the calendar of another time column of the record
            lines = [f"t = NS(record[{w.const(f'CAL{i}', self.feat.inputs[0])}])"]
        return [
            *lines,
            f"out[{j_dow}] = float((t // NS_DAY + 3) % 7)",  # 1970-01-01 was a Thursday; Monday = 0
            f"out[{j_hour}] = float((t // NS_HOUR) % 24)",
        ]
