"""The legacy selection policy and the inspections both generators simulate (docs/domain.md 1.1, 4.3).

Selection, in the order an administration's system applies it:

1. **Random selection** first, on every record: a share ``random_red`` goes red and ``random_yellow`` of
   the rest yellow, whatever the rules say, so the records whose reason is ``random`` are a true random
   sample of the traffic (their violation rate estimates the prevalence, docs/domain.md 4.3).
2. **Intelligence** (``intelligence_hit_rate`` / ``intelligence_false_rate``): a tip the data does not
   carry sends a record red with reason ``officer``. It depends on the hidden truth, so weighting by the
   recorded propensity is no longer exactly unbiased, as in real life.
3. **Rules**: rule points plus a U(0, 1) jitter against two thresholds set for the target red and yellow
   shares; a mandatory criterion (a licence for the goods, goods the traveller declared) sends a record to
   yellow whatever its points. A planted **biased rule** (``biased_value``, ``biased_points``) adds points to
   one origin or nationality whose violation rate is no higher: the fairness checks must flag it.

The recorded ``selection_propensity`` is what the administration's own system knows: the probability the
rules and the random draw select the record, from visible fields alone (missing when the scenario says
``record_propensity = false``). ``truth_selection_propensity`` adds the intelligence tips and is exact.

What an inspection finds is per mechanism and check type: ``detect_red`` and ``detect_yellow`` in each
mechanism's table of the scenario (:func:`detection`), documented in docs/domain.md 4.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["REASONS", "Selection", "biased_group", "detection", "inspect", "legacy_selection", "rule_shares"]

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]
Int = NDArray[np.int64]

#: Selection reasons in the order of the ``legacy_reason`` categories (the mandatory one is per kind).
REASONS = ("none", "rule", "random", "officer")


@dataclass(frozen=True)
class Selection:
    """The legacy policy's decision for a batch of records."""

    channel: Int  # 0 green, 1 yellow, 2 red
    reason: NDArray[np.str_]  # none, rule, <mandatory reason>, random, officer
    propensity: Float  # what the administration records (visible fields only); NaN when not recorded
    truth_propensity: Float  # exact P(inspected | fields, truth): includes the intelligence tips


def biased_group(codes: Int, categories: Sequence[str], legacy: Mapping[str, Any]) -> Bool:
    """Mark the records of the group the planted biased rule favours (``biased_value``; "" = none)."""
    value = str(legacy.get("biased_value", ""))
    if not value or value not in categories:
        return np.zeros(len(codes), dtype=bool)
    return np.asarray(codes == list(categories).index(value), dtype=bool)


def rule_shares(legacy: Mapping[str, Any], prevalence: float) -> tuple[float, float]:
    """Shares the rules must fill so red and yellow reach their targets beside random and officer picks."""
    tips = prevalence * float(legacy["intelligence_hit_rate"]) + (1 - prevalence) * float(
        legacy["intelligence_false_rate"]
    )
    red = max(float(legacy["red_share"]) - float(legacy["random_red"]) - tips, 1e-4)
    yellow = max(float(legacy["yellow_share"]) - float(legacy["random_yellow"]), 0.0)
    return red, yellow


def legacy_selection(
    rng: np.random.Generator,
    points: Float,
    mandatory: Bool,
    red_threshold: float,
    yellow_threshold: float,
    legacy: Mapping[str, Any],
    mandatory_reason: str,
    violation: Bool,
) -> Selection:
    """Channel, selection reason and propensities per record (see the module docstring for the order).

    ``points`` are the visible rule points, the biased rule's included; ``violation`` is the hidden truth
    an intelligence tip may reveal.
    """
    size = len(points)
    rr, ry = float(legacy["random_red"]), float(legacy["random_yellow"])
    hit, false = float(legacy["intelligence_hit_rate"]), float(legacy["intelligence_false_rate"])
    rand_red = rng.random(size) < rr
    rand_yellow = ~rand_red & (rng.random(size) < ry)
    tip_rate = np.where(violation, hit, false)
    tip = rng.random(size) < tip_rate
    score = points + rng.random(size)
    rule_red = score >= red_threshold
    rule_yellow = ~rule_red & ((score >= yellow_threshold) | mandatory)
    red = rand_red | tip | rule_red
    yellow = ~red & (rand_yellow | rule_yellow)
    channel = np.where(red, 2, np.where(yellow, 1, 0)).astype(np.int64)
    by_mandatory = np.where(mandatory & (score < yellow_threshold), mandatory_reason, "rule")
    reason = np.where(
        rand_red | rand_yellow,
        "random",
        np.where(tip, "officer", np.where(rule_red, "rule", np.where(rule_yellow, by_mandatory, "none"))),
    )
    # P(rules select) from the visible points: the jitter is the only randomness of the rules.
    a = np.clip(points + 1 - red_threshold, 0, 1)
    b = np.maximum(a, np.where(mandatory, 1.0, np.clip(points + 1 - yellow_threshold, 0, 1)))
    not_random = (1 - rr) * (1 - ry)
    visible = 1 - (1 - b) * not_random
    exact = 1 - (1 - b) * not_random * (1 - tip_rate)
    recorded = visible if legacy.get("record_propensity", True) else np.full(size, np.nan)
    return Selection(
        channel=channel,
        reason=reason,
        propensity=np.asarray(recorded, dtype=np.float64),
        truth_propensity=np.asarray(exact, dtype=np.float64),
    )


def detection(mechanisms: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> tuple[Float, Float]:
    """Per hypothesis (0 = none, then ``names``), the chance a red and a yellow check find the violation."""
    red = np.array([0.0, *(float(mechanisms[m].get("detect_red", 0.0)) for m in names)])
    yellow = np.array([0.0, *(float(mechanisms[m].get("detect_yellow", 0.0)) for m in names)])
    return red, yellow


def inspect(
    rng: np.random.Generator, selection: Selection, hypothesis: Int, red: Float, yellow: Float
) -> Bool:
    """Whether each record's inspection found its violation (hypothesis 0 = none is never found)."""
    channel = selection.channel
    sens = np.where(channel == 2, red[hypothesis], np.where(channel == 1, yellow[hypothesis], 0.0))
    return np.asarray((hypothesis > 0) & (rng.random(len(hypothesis)) < sens), dtype=bool)
