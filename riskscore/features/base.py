"""What a feature kind is: one class that owns its checks, fit, batch values, one-record code and words.

A spec's ``[[features]]`` entry names a kind (``kind = "reference"``); the registry (``registry.py``) maps
the name to a :class:`FeatureKind` subclass, one per file of this package. The builder and the one-record
plan only assemble kinds: adding a kind means writing its file, adding one registry line and, if its
values deserve their own sentences, entries in ``reasons.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore.exceptions import SpecError
from riskscore.features._common import Float, numeric

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.features.plan import PlanWriter
    from riskscore.spec import DerivedFeature, RecordSpec

__all__ = ["Batch", "FeatureKind", "Settings"]


@dataclass
class Batch:
    """What a kind's batch computation reads: the records, their days, and earlier features' values."""

    frame: pd.DataFrame
    day: NDArray[np.int64]
    derived: dict[str, Float]  # value of each earlier single-valued derived feature, by feature name
    training: bool
    inspected: NDArray[np.bool_] | None = None
    hits: NDArray[np.bool_] | None = None

    def value(self, name: str) -> Float:
        """Return an input's values: an earlier derived feature's, or a declared column's as float64."""
        return self.derived[name] if name in self.derived else numeric(self.frame[name])


@dataclass(frozen=True)
class Settings:
    """The builder's parameters that kinds read (see :class:`riskscore.features.FeatureBuilder`)."""

    smoothing: float
    reference_shrink: float
    hit_rate: float  # overall hit rate of the training inspections (the prior of history hit rates)
    min_category_count: int = 20  # levels seen fewer times in training share the rare-or-unseen bucket


class FeatureKind:
    """One kind of derived feature. Subclasses set the class attributes and override what they need.

    Attributes
    ----------
    kind : str
        The name a spec uses (``kind = "..."``).
    arity : tuple of int
        Minimum and maximum number of ``inputs``.
    state_key : str or None
        Where the fitted state is stored in the model file's ``features.json`` (None: no fitted state).
    single : bool
        Whether the kind makes one value named after the feature, which later features may use as an
        input (a ratio feeding a reference).
    keyed_inputs : bool
        Whether the inputs form a key (hashed together), so that an input may cut a code to a prefix
        (``"hs_code:4"``: history of the HS heading).
    categorical : bool
        Whether the outputs are category codes LightGBM must split as categories.
    """

    kind: ClassVar[str]
    arity: ClassVar[tuple[int, int]]
    state_key: ClassVar[str | None] = None
    single: ClassVar[bool] = True
    keyed_inputs: ClassVar[bool] = False
    categorical: ClassVar[bool] = False

    def __init__(self, feat: DerivedFeature) -> None:
        self.feat = feat
        self.name = feat.name

    # -- the spec ---------------------------------------------------------------------------------------

    @classmethod
    def check(cls, feat: DerivedFeature, where: str) -> str | None:
        """Return a problem with the entry's kind-specific parameters (a sentence with the fix), or None."""
        return None

    def outputs(self) -> list[str]:
        """Names of the model features this entry makes, in matrix order."""
        return [self.name]

    def fields(self, resolve: Callable[[str], tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """Return the declared fields each output is explained by (``resolve`` maps an input to its fields)."""
        out: list[str] = []
        for item in self.feat.inputs:
            out.extend(f for f in resolve(item) if f not in out)
        return dict.fromkeys(self.outputs(), tuple(out))

    # -- batch ------------------------------------------------------------------------------------------

    def compute(self, batch: Batch, settings: Settings, state: Any) -> tuple[dict[str, Float], Any]:
        """Return the outputs' values for the batch and the fitted state.

        ``state`` is None when training (``batch.training``): the kind fits its state on the batch and
        returns it; otherwise it is the stored state, returned unchanged.
        """
        raise NotImplementedError

    def extend(self, state: Any, batch: Batch) -> Any:
        """Add later records to the fitted state (history kinds); most kinds keep theirs as fitted."""
        return state

    def compact(self, state: Any, as_of_day: int, keep_days: int) -> Any:
        """Shrink the fitted state for storage without changing answers from ``as_of_day`` on."""
        return state

    def state_to_json(self, state: Any) -> Any:
        """Return the fitted state as JSON (arrays through ``_common.encode``)."""
        return None

    # -- the fitted state from partitions (riskscore.distributed) ---------------------------------------

    def partial_state(
        self, batch: Batch, settings: Settings, shards: int
    ) -> tuple[dict[int, Any], Float | None]:
        """Return one partition's share of the fitted state, by shard, and the values it sums in order.

        Kinds with a fitted state implement the three steps that rebuild it from partitions exactly (what
        :meth:`compute` fits on the partitions joined in order): this one, on each partition; the pieces are
        split by key into ``shards`` (a key's pieces all go to shard ``key % shards``), so that a shard's
        pieces can be combined on one worker (:meth:`combine_states`); then :meth:`assemble_state` joins the
        shards. The second value is a sequence whose sum in record order the state needs (a mean over every
        record), or None.
        """
        raise SpecError(
            f"feature {self.name!r} (kind {self.kind!r}) has no exact reduction of its fitted state from "
            "partitions (FeatureKind.partial_state, combine_states, assemble_state); fit it on one machine "
            "with riskscore.train"
        )

    def combine_states(self, pieces: list[Any]) -> Any:
        """Combine one shard's pieces of every partition, given in partition order (see :meth:`partial_state`)."""
        raise NotImplementedError

    def assemble_state(
        self, shards: list[Any], settings: Settings, ordered_sum: tuple[float, int] | None
    ) -> Any:
        """Join the shards' combined pieces into the fitted state; ``ordered_sum`` is (sum, count) or None."""
        raise NotImplementedError

    def state_from_json(self, data: Any) -> Any:
        """Inverse of :meth:`state_to_json`."""
        return None

    # -- one record -------------------------------------------------------------------------------------

    def emit(self, w: PlanWriter, i: int, state: Any, settings: Settings) -> list[str]:
        """Lines of the generated one-record function computing this entry's outputs (see ``plan.py``).

        Must give the batch values bit for bit: the same IEEE operations in the same order.
        """
        raise NotImplementedError

    # -- words ------------------------------------------------------------------------------------------

    def sentence(self, output: str, value: float, record: Any, spec: RecordSpec) -> str | None:
        """Return a plain sentence for an output without an entry in reasons.toml, or None (fields are quoted)."""
        return None

    def unseen_outputs(self) -> dict[str, str]:
        """Return the outputs that mean nothing for a key without earlier records -> the output that is 0 then.

        Their reasons then say so (:meth:`no_history`) instead of quoting a prior rate or a missing age.
        """
        return {}

    def no_history(self, record: Any, spec: RecordSpec) -> str:
        """Return the sentence for a record whose key has no earlier record (kinds with unseen outputs)."""
        raise NotImplementedError
