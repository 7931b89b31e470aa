"""``code_level``: a level of a code hierarchy as a category (the HS chapter or heading of an HS code).

A six-digit HS code is too fine for many traders' and goods' patterns; its heading (4 digits) and chapter
(2 digits) carry what the code alone cannot learn from few records (docs/domain.md 2.1, hs6/hs4/hs2). The input
names the level as a cut of a code column: ``inputs = ["hs_code:4"]``. Levels seen fewer than
``min_category_count`` times in training share the rare-or-unseen bucket, like raw categories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore._hashing import split_key, text_codes
from riskscore.features._common import Float
from riskscore.features.base import Batch, FeatureKind, Settings
from riskscore.features.plan import PlanWriter

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.spec import DerivedFeature, RecordSpec


class CodeLevel(FeatureKind):
    """The code's prefix as a LightGBM category (codes of the kept levels; one bucket for the rest)."""

    kind = "code_level"
    arity = (1, 1)
    state_key = "levels"
    single = False
    keyed_inputs = True
    categorical = True

    @classmethod
    def check(cls, feat: DerivedFeature, where: str) -> str | None:
        if ":" not in feat.inputs[0]:
            return (
                f'{where}: a code_level feature names a level as a cut of a code, e.g. inputs = ["hs_code:4"]'
            )
        return None

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        name, cut = split_key(self.feat.inputs[0])
        values, codes = text_codes(batch.frame[name], cut)
        if state is None:
            counts = np.bincount(codes[codes >= 0], minlength=len(values))
            state = sorted(
                str(v) for v, c in zip(values, counts, strict=True) if c >= settings.min_category_count
            )
        mapped = pd.Index(state).get_indexer(pd.Index(values)) if len(values) else np.zeros(0, np.intp)
        mapped = np.where(mapped >= 0, mapped, len(state))  # rare or unseen bucket
        out = np.where(codes >= 0, mapped[codes.clip(0)] if len(values) else 0, np.nan).astype(np.float64)
        return {self.name: out}, state

    def partial_state(
        self, batch: Batch, settings: Settings, shards: int
    ) -> tuple[dict[int, Any], Float | None]:
        name, cut = split_key(self.feat.inputs[0])
        return {0: level_counts(batch.frame[name], cut)}, None  # few levels: one shard

    def combine_states(self, pieces: list[Any]) -> Any:
        return add_counts(pieces)

    def assemble_state(
        self, shards: list[Any], settings: Settings, ordered_sum: tuple[float, int] | None
    ) -> Any:
        values, counts = add_counts(shards)
        return sorted(str(v) for v, c in zip(values, counts, strict=True) if c >= settings.min_category_count)

    def state_to_json(self, state: Any) -> Any:
        return list(state)

    def state_from_json(self, data: Any) -> Any:
        return [str(v) for v in data]

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        name, cut = split_key(self.feat.inputs[0])
        codes = w.const(f"LEVEL{i}", {v: float(k) for k, v in enumerate(state)})
        text = "(x if type(x) is str else str(x))" + (f"[:{int(cut)}]" if cut else "")
        return [
            f"x = get({w.const(f'LIN{i}', name)})",
            f"out[{w.pos[self.name]}] = NAN if x is None else {codes}.get({text}, {float(len(state))})",
        ]

    def sentence(self, output: str, value: float, record: Any, spec: RecordSpec) -> str | None:
        name, cut = split_key(self.feat.inputs[0])
        code = record.get(name)
        if code is None or code != code:
            return None
        return f"{spec.column(name).display} level {str(code)[:cut]} ({cut} characters of {code})"


def level_counts(column: pd.Series, cut: int | None = None) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Distinct values of a column (cut to a prefix) as text, and how many records hold each."""
    values, codes = text_codes(column, cut)
    counts = np.bincount(codes[codes >= 0], minlength=len(values)).astype(np.int64)
    return np.asarray([str(v) for v in values], dtype=object), counts


def add_counts(
    parts: list[tuple[NDArray[np.object_], NDArray[np.int64]]],
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Add up :func:`level_counts` of several batches (whole numbers: exact in any order)."""
    values = np.concatenate([v for v, _ in parts]) if parts else np.zeros(0, dtype=object)
    counts = np.concatenate([c for _, c in parts]) if parts else np.zeros(0, dtype=np.int64)
    total = pd.Series(counts).groupby(pd.Index(values, dtype=object), sort=False).sum()
    return np.asarray(total.index, dtype=object), total.to_numpy(dtype=np.int64)
