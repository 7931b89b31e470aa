"""The feature kinds a spec may name, in one table: ``kind = "..."`` -> its class."""

from __future__ import annotations

from riskscore.features.base import FeatureKind
from riskscore.features.calendar import Calendar
from riskscore.features.code_level import CodeLevel
from riskscore.features.group_max_gap import GroupMaxGap
from riskscore.features.history import History
from riskscore.features.log_ratio import LogRatio
from riskscore.features.not_equal import NotEqual
from riskscore.features.ratio import Ratio
from riskscore.features.reference import Reference

__all__ = ["KINDS"]

#: Every kind, by the name a spec uses. Adding a kind: its file, one line here, and reasons.toml entries.
KINDS: dict[str, type[FeatureKind]] = {
    cls.kind: cls for cls in (LogRatio, Ratio, NotEqual, Reference, GroupMaxGap, History, Calendar, CodeLevel)
}
