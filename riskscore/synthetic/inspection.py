"""The legacy selection policy both generators simulate (DOMAIN.md 1.1, 4.3).

Rule points plus a U(0, 1) jitter are compared with two thresholds set for the target red and yellow
shares; a mandatory criterion (a licence for the goods, or goods the traveller declared) sends a record to
yellow whatever its points; random red and yellow shares are drawn on top. Because the jitter and the
random draws are the only randomness, the probability that a record is inspected is known exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["legacy_selection"]


def legacy_selection(
    rng: np.random.Generator,
    points: NDArray[np.float64],
    mandatory: NDArray[np.bool_],
    red_threshold: float,
    yellow_threshold: float,
    legacy: dict[str, Any],
    mandatory_reason: str,
) -> tuple[NDArray[np.int64], NDArray[np.str_], NDArray[np.float64]]:
    """Channel (0 green, 1 yellow, 2 red), selection reason and exact inspection propensity per record."""
    size = len(points)
    score = points + rng.random(size)
    rule_red = score >= red_threshold
    rule_yellow = ~rule_red & ((score >= yellow_threshold) | mandatory)
    rand_red = ~rule_red & (rng.random(size) < legacy["random_red"])
    rand_yellow = ~rule_red & ~rule_yellow & ~rand_red & (rng.random(size) < legacy["random_yellow"])
    channel = np.where(rule_red | rand_red, 2, np.where(rule_yellow | rand_yellow, 1, 0)).astype(np.int64)
    by_mandatory = np.where(mandatory & (score < yellow_threshold), mandatory_reason, "rule")
    reason = np.where(
        rule_red,
        "rule",
        np.where(rand_red | rand_yellow, "random", np.where(rule_yellow, by_mandatory, "none")),
    )
    a = np.clip(points + 1 - red_threshold, 0, 1)
    b = np.maximum(a, np.where(mandatory, 1.0, np.clip(points + 1 - yellow_threshold, 0, 1)))
    rr, ry = legacy["random_red"], legacy["random_yellow"]
    propensity = b + (1 - b) * (rr + (1 - rr) * ry)
    return channel, reason, np.asarray(propensity, dtype=np.float64)
