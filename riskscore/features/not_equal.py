"""``not_equal``: 1 where two fields differ (origin not the country of departure: transhipment, S3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from riskscore.features._common import Float
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.spec import RecordSpec


class NotEqual(FeatureKind):
    """1.0 where the two inputs' texts differ (missing reads as ``"nan"``), else 0.0."""

    kind = "not_equal"
    arity = (2, 2)

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        a, b = (_text(batch.frame[i]) for i in self.feat.inputs)
        return {self.name: (a != b).astype(np.float64)}, state

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        a, b = self.feat.inputs
        lines = [
            f"a = get({w.const(f'NEA{i}', a)})",
            f"b = get({w.const(f'NEB{i}', b)})",
            'v = float(("nan" if a is None else str(a)) != ("nan" if b is None else str(b)))',
        ]
        return lines + w.store(self.name, i)

    def sentence(self, output: str, value: float, record: Any, spec: RecordSpec) -> str | None:
        a, b = (spec.column(c) for c in self.feat.inputs)
        verb = "differs from" if value else "equals"
        return f"{a.display} {record.get(a.name)} {verb} {b.display.lower()} {record.get(b.name)}"


def _text(column: Any) -> Any:
    """Return a column's values as text, a missing value as ``"nan"`` (two missing values are not different)."""
    text = column.astype(str).to_numpy(dtype=object)
    text[column.isna().to_numpy(dtype=bool)] = "nan"
    return text
