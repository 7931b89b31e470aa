"""Join two LightGBM binary boosters into one whose margin is a weighted sum of theirs.

The risk model learns from every inspection (documentary and physical) and, where the data says which
checks were physical, a second head learns from physical checks only: they alone can reveal quantity
misdeclaration, concealment or diversion (docs/domain.md 4.1). Each head is Platt-linear in its margin, so
the sum of their calibrated logits is ``a * margin_1 + b * margin_2 + c``; written as one booster (the
trees of both, leaf values scaled), everything downstream stays one model: prediction, the one-record path,
TreeSHAP contributions that add up exactly, the model file.
"""

from __future__ import annotations

import re

import lightgbm as lgb

__all__ = ["merge_boosters"]

_TREE = re.compile(r"^Tree=\d+\n", re.MULTILINE)
_SCALED = ("leaf_value", "internal_value")


def _trees(text: str) -> tuple[str, list[str], str]:
    """Split a model text into its header, its tree blocks and what follows the trees."""
    end = text.index("end of trees")
    starts = [m.start() for m in _TREE.finditer(text, 0, end)]
    if not starts:
        raise ValueError("the LightGBM model text holds no trees")
    blocks = [text[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)]
    return text[: starts[0]], blocks, text[end:]


def _scaled(block: str, number: int, weight: float) -> str:
    """One tree block renumbered, its leaf and internal values multiplied by ``weight``."""
    lines = block.split("\n")
    lines[0] = f"Tree={number}"
    for i, line in enumerate(lines):
        key, sep, values = line.partition("=")
        if sep and key in _SCALED and values:
            lines[i] = f"{key}=" + " ".join(repr(float(v) * weight) for v in values.split(" "))
    return "\n".join(lines)


def merge_boosters(
    first: lgb.Booster, second: lgb.Booster, weights: tuple[float, float], *, iterations: tuple[int, int]
) -> lgb.Booster:
    """Return one booster with ``margin = w1 * first's margin + w2 * second's`` (their first iterations).

    Both must be binary boosters over the same features; the header, feature information and parameters
    of ``first`` are kept. The text is re-read by LightGBM, which writes it out again in its own layout.
    """
    if first.num_feature() != second.num_feature():
        raise ValueError(
            f"boosters over different features: {first.num_feature()} and {second.num_feature()}"
        )
    head, trees_1, tail = _trees(first.model_to_string(num_iteration=iterations[0]))
    _, trees_2, _ = _trees(second.model_to_string(num_iteration=iterations[1]))
    blocks = [_scaled(b, i, weights[0]) for i, b in enumerate(trees_1)]
    blocks += [_scaled(b, len(trees_1) + i, weights[1]) for i, b in enumerate(trees_2)]
    # tree_sizes lets LightGBM parse trees in parallel; without it, it reads them in order
    head = re.sub(r"^tree_sizes=.*\n", "", head, flags=re.MULTILINE)
    merged = lgb.Booster(model_str=head + "".join(blocks) + tail)
    return lgb.Booster(model_str=merged.model_to_string())
