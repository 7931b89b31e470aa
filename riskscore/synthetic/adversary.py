"""Smugglers who adapt: a mechanism that is caught too often moves to where customs looks least.

docs/domain.md 4.4 (b): when a mechanism's detection rate in a period passes a threshold, its volume moves
in the following periods toward the least-inspected HS chapters, origins and offices, and toward fresh
importer ids (phantom firms that shed their record, docs/domain.md 2.2 S6). The move is a
:class:`~riskscore.synthetic.shipments.DriftStep` appended to the world from the next period's first day:
factors on declared fields only, so the generator's oracle stays exact for every later record.

The adversary sees what a smuggler can see: which declarations of each HS chapter, origin and office were
inspected (a broker knows which of its declarations went red or yellow), and which of its own were caught.

>>> from riskscore.synthetic.adversary import Adversary
>>> Adversary(threshold=0.08).threshold
0.08
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.synthetic.shipments import DriftStep, ShipmentWorld

__all__ = ["Adversary", "Move"]


@dataclass(frozen=True)
class Move:
    """One adversary move, for the record: from which day, which mechanism, and why."""

    first_day: int
    mechanism: str
    detection: float  # the share of the mechanism's records caught in the period that triggered it
    committed: int


@dataclass
class Adversary:
    """Move each mechanism away from inspected cells when its detection rate passes ``threshold``.

    Parameters
    ----------
    threshold
        Detection rate (records of the mechanism caught / records committed, in one period) above which
        the mechanism moves.
    step
        Strength of one move: a cell inspected at ``1 + x`` times the period's overall rate gets its
        intensity multiplied by ``exp(-step * x)`` (clipped to [1/4, 4]).
    fresh
        Intensity factor on importers registered in the last ``fresh_days`` days, per move (phantom firms).
        The factors of one move are then rescaled so that the mechanism's volume over the next
        ``period_days`` stays what it was. Smugglers move; they neither multiply nor give up.
    fresh_days
        What counts as a fresh importer id.
    min_records
        A cell with fewer records in the period is treated as inspected at the overall rate.
    min_committed
        A mechanism with fewer records in the period does not move (its rate says nothing yet).
    period_days
        Days over which a move keeps the mechanism's volume (its mean intensity) what it was.
    """

    threshold: float = 0.10
    step: float = 1.0
    fresh: float = 1.3
    fresh_days: int = 90
    min_records: int = 30
    min_committed: int = 20
    period_days: int = 7
    moves: list[Move] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ParameterError(f"adversary threshold is a detection rate in [0, 1]; got {self.threshold!r}")
        if self.step < 0 or self.fresh < 1.0:
            raise ParameterError(
                f"adversary step must be >= 0 and fresh >= 1 (1: no move to fresh ids); got step "
                f"{self.step!r}, fresh {self.fresh!r}"
            )

    def observe(
        self,
        world: ShipmentWorld,
        period: pd.DataFrame,
        inspected: NDArray[np.bool_],
        caught: NDArray[np.bool_],
        next_day: int,
    ) -> list[DriftStep]:
        """Append to ``world.drift`` the moves a period's inspections trigger; return them.

        ``period`` holds the period's records (declared fields and ``truth_mechanism``); ``inspected`` and
        ``caught`` say which records were inspected and which violations were found; ``next_day`` is the
        next period's first day index (days since the world's start).
        """
        from riskscore.synthetic.shipments import DriftStep, mechanism_volume

        if len(period) != len(inspected) or len(period) != len(caught):
            raise ParameterError(
                f"adversary.observe needs one inspected and caught flag per record; got {len(period)} records, "
                f"{len(inspected)} inspected flags, {len(caught)} caught flags"
            )
        mech = period["truth_mechanism"].astype(object).to_numpy()
        cells = _cells(world, period)
        overall = float(np.mean(inspected)) if len(inspected) else 0.0
        steps: list[DriftStep] = []
        for name in sorted({m for m in mech if isinstance(m, str)}):
            mine = mech == name
            committed = int(mine.sum())
            rate = float(caught[mine].mean()) if committed else 0.0
            if committed < self.min_committed or rate <= self.threshold:
                continue
            factors = {
                dim: self._factors(codes, size, inspected, overall) for dim, (codes, size) in cells.items()
            }
            step = DriftStep(
                first_day=int(next_day),
                mix={},
                hs2=factors["hs2"],
                origin=factors["origin"],
                office=factors["office"],
                fresh=self.fresh,
                fresh_days=self.fresh_days,
                mechanisms=(name,),
            )
            # the mechanism's volume stays what it is: the move's factors are rescaled so that its mean
            # intensity over the next period's traffic is what it was before the move (an estimate from
            # the period's own records was noisy, and dividing by a noisy mean grew the volume move by
            # move; the traffic's mean instead shrank it)
            before = mechanism_volume(world, name, next_day, next_day + self.period_days)
            if before <= 0.0:
                continue
            world.drift.append(step)
            for _ in range(2):  # the cap on a record's total intensity makes the volume slightly non-linear
                after = mechanism_volume(world, name, next_day, next_day + self.period_days)
                step.hs2 *= before / max(after, 1e-300)
            steps.append(step)
            self.moves.append(Move(int(next_day), name, rate, committed))
        return steps

    def _factors(
        self, codes: NDArray[np.int64], size: int, inspected: NDArray[np.bool_], overall: float
    ) -> NDArray[np.float64]:
        """Per cell: exp(-step x how far its inspection rate was above the period's), in [1/4, 4]."""
        records = np.bincount(codes, minlength=size).astype(np.float64)
        checks = np.bincount(codes, weights=inspected.astype(np.float64), minlength=size)
        rate = np.where(records >= self.min_records, checks / np.maximum(records, 1.0), overall)
        excess = rate / overall - 1.0 if overall > 0 else np.zeros(size)
        return np.asarray(np.clip(np.exp(-self.step * excess), 0.25, 4.0), dtype=np.float64)


def _cells(world: ShipmentWorld, period: pd.DataFrame) -> dict[str, tuple[NDArray[np.int64], int]]:
    """Each record's HS chapter, origin and office as indices into the world's tables (declared values)."""

    def index(values: Any, table: Any) -> NDArray[np.int64]:
        lookup = {str(v): i for i, v in enumerate(table)}
        return np.array([lookup.get(str(v), 0) for v in values], dtype=np.int64)

    hs2 = pd.to_numeric(period["hs_code"].astype(str).str[:2], errors="coerce").fillna(0).to_numpy(np.int64)
    origin = pd.Series(period["origin_country"].astype(str))
    office = pd.Series(period["office_code"].astype(str))
    return {
        "hs2": (hs2, 100),
        "origin": (_codes(origin, world.iso, index), len(world.iso)),
        "office": (_codes(office, world.office_code, index), len(world.office_code)),
    }


def _codes(values: pd.Series, table: Any, index: Any) -> NDArray[np.int64]:
    uniq, inverse = np.unique(values.to_numpy(dtype=str), return_inverse=True)
    return np.asarray(index(uniq, table)[inverse], dtype=np.int64)
