"""Model cards: what a model was trained on, how it does, what it must not be used for."""

from __future__ import annotations

from typing import Any

import pandas as pd

from riskscore.model import RiskModel

__all__ = ["model_card"]


def _table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(model: RiskModel, report: dict[str, pd.DataFrame] | None = None) -> str:
    """Render a markdown model card for ``model`` with its held-out evaluation."""
    info = model.info
    policy = model.policy
    parts = [
        f"# Model card: {model.version}",
        "",
        f"- Record spec: `{model.spec.name}` v{model.spec.version} (fingerprint `{model.spec.fingerprint()[:12]}`)",
        f"- Trained: {info.get('trained_at')} on {info.get('training_rows')} records "
        f"({info.get('training_labelled_rows')} with an inspection outcome), period {info.get('training_period')}",
        f"- Labels: {info.get('label')} (inspection outcomes; only inspected records carry one)",
        f"- Training data sha256: `{info.get('training_data_sha256')}`",
        f"- LightGBM rounds: {info.get('best_iteration')}; features: {len(model.features.feature_names_)}",
        f"- Protected attributes used as features: {info.get('include_protected') or 'none'}",
        *_physical_head_line(info.get("physical_head")),
        "",
        "## Channel policy",
        "",
        f"Model-selected red {policy.red_share:.1%}, yellow {policy.yellow_share:.1%}; random red "
        f"{policy.random_red:.2%}, random yellow {policy.random_yellow:.2%} (reproducible per record id).",
        "",
        *[f"- rule: `{r.column} {r.op} {r.value}` -> {r.channel} ({r.note})" for r in policy.rules],
        "",
        "## Intended use",
        "",
        "Ranking declarations or travellers for document checks and physical inspection within a fixed capacity,",
        "with an officer reviewing every red selection. The risk score is calibrated to *detected* violations",
        "among inspected records; violations that inspections miss are not in it.",
        "",
        "## Limits",
        "",
        "- Learned from the legacy policy's inspections: regions it never inspected are known only through the",
        "  random share. Retrain as inspections under this model accumulate.",
        "- History features (importer, broker, traveller) use the history stored in the model; bring it up to",
        "  date by retraining, or the features age.",
        "- Not for decisions without human review; never on protected attributes (docs/domain.md 3.5).",
    ]
    if report:
        # "outcomes" and "by": the tables of a spec's own [labels] (a user's declarations, no truth needed)
        for name in ("truth", "observed", "outcomes", "by", "mechanisms", "channels", "groups"):
            if name in report and len(report[name]):
                parts += [
                    "",
                    f"## Evaluation on the latest window: {name}",
                    "",
                    _table(report[name].reset_index() if name == "channels" else report[name]),
                ]
    return "\n".join(parts) + "\n"


def _physical_head_line(head: Any) -> list[str]:
    """Describe the physical-check head in one line, when the model has one (``training._physical_head``)."""
    if not head:
        return []
    trees, weights = head["trees"], head["weights"]
    return [
        f"- Physical-check head: {trees[1]} trees learnt from the {head['physical_rows']} inspections whose "
        f"`{head['check']}` is {' or '.join(head['physical'])} (what only a physical check can find), joined to "
        f"the {trees[0]} trees of all inspections with weights {weights[0]:g} and {weights[1]:g} (one booster)"
    ]
