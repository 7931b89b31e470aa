"""Features: one kind per file, a registry, and the builder and one-record plan that assemble them.

``FeatureBuilder`` (builder.py) turns records of a spec into the model's feature matrix; ``FeaturePlan``
(plan.py) computes one record's row without pandas, bit for bit the same; each ``[[features]]`` kind
(log_ratio.py, ratio.py, not_equal.py, reference.py, group_max_gap.py, history.py, calendar.py) owns its
checks, fit, batch values, one-record code and sentences; ``registry.KINDS`` lists them. See
docs/architecture.md, "Adding a feature kind".

Names load lazily, so that ``riskscore.spec`` can read the registry without importing the builder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.features.base import FeatureKind
    from riskscore.features.builder import FeatureBuilder
    from riskscore.features.events import EventTable
    from riskscore.features.plan import FeaturePlan
    from riskscore.features.registry import KINDS

__all__ = ["KINDS", "EventTable", "FeatureBuilder", "FeatureKind", "FeaturePlan"]

_WHERE = {
    "FeatureBuilder": "riskscore.features.builder",
    "EventTable": "riskscore.features.events",
    "FeaturePlan": "riskscore.features.plan",
    "FeatureKind": "riskscore.features.base",
    "KINDS": "riskscore.features.registry",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
