"""The review report: a self-contained HTML page an officer opens before an inspection.

One file, no network access needed: styles, script and charts are inline. Record fields are untrusted
text and are only ever inserted through Jinja2 with autoescaping; the table script reads and moves
existing DOM nodes and never builds HTML from data.
"""

from __future__ import annotations

import datetime as dt
import io
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskscore._io import atomic_write_text, check_output_folder, read_table, safe_csv
from riskscore._optional import require
from riskscore.exceptions import OutputError, ParameterError

__all__ = ["ReviewResult", "build_review"]

MAX_CASES = 1000
WATERFALL_BARS = 8


@dataclass
class ReviewResult:
    """What build_review wrote."""

    index: Path
    flagged_csv: Path
    records: int
    flagged: int
    shown: int


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG is inlined


def _plots(
    pred: pd.DataFrame, fields: pd.DataFrame, risk: np.ndarray, labels: dict[str, str]
) -> dict[str, str]:
    require("matplotlib", extra="report", feature="the review report")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    colors = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
    bins = np.linspace(0, max(float(pred["risk_score"].max()), 1e-3), 40).tolist()
    for ch in ("green", "yellow", "red"):
        sel = pred["channel"] == ch
        if sel.any():
            ax.hist(pred.loc[sel, "risk_score"], bins=bins, color=colors[ch], alpha=0.8, label=ch)
    ax.set_yscale("log")
    ax.set_xlabel("risk score (probability that an inspection finds a violation)")
    ax.set_ylabel("records")
    ax.legend(frameon=False)
    out["scores"] = _svg(fig)

    # beeswarm-style strip plot: each dot a record, x its field's contribution, colour its risk
    top = fields.abs().mean().sort_values(ascending=False).index[:10][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(top) + 1.0))
    rng = np.random.default_rng(0)
    for i, f in enumerate(top):
        x = fields[f].to_numpy()
        ax.scatter(
            x,
            i + rng.uniform(-0.3, 0.3, len(x)),
            s=4,
            c=risk,
            cmap="viridis",
            alpha=0.6,
            linewidths=0,
            rasterized=True,
        )
    ax.set_yticks(range(len(top)), [labels.get(f, f) for f in top])
    ax.axvline(0, color="#888", lw=0.8)
    ax.set_xlabel("contribution to the risk log-odds (right = riskier)")
    out["drivers"] = _svg(fig)
    return out


def _waterfall(base: float, contribs: pd.Series, labels: dict[str, str]) -> dict[str, Any]:
    """Bars for one record's waterfall: the largest field contributions, the rest, from base to total."""
    order = contribs.abs().sort_values(ascending=False).index
    shown = list(order[:WATERFALL_BARS])
    rest = float(contribs.drop(shown).sum())
    bars = []
    level = base
    items = [(labels.get(f, f), float(contribs[f])) for f in shown]
    if abs(rest) > 1e-12:
        items.append((f"{len(order) - len(shown)} other fields", rest))
    for label, value in items:
        bars.append({"label": label, "start": level, "end": level + value, "value": value})
        level += value
    lo = min([base, level] + [min(b["start"], b["end"]) for b in bars])
    hi = max([base, level] + [max(b["start"], b["end"]) for b in bars])
    span = hi - lo or 1.0
    width = 300.0
    for b in bars:
        x0, x1 = sorted(((b["start"] - lo) / span * width, (b["end"] - lo) / span * width))
        b["x"], b["w"] = round(x0, 1), round(max(x1 - x0, 1.0), 1)
        b["up"] = b["value"] > 0
    return {
        "bars": bars,
        "base_x": round((base - lo) / span * width, 1),
        "end_x": round((level - lo) / span * width, 1),
        "base": base,
        "total": level,
        "height": 18 * len(bars) + 24,
    }


def build_review(
    model: Any,
    records: pd.DataFrame | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    max_cases: int = MAX_CASES,
    title: str | None = None,
) -> ReviewResult:
    """Score a batch, explain its flagged cases and write ``index.html`` and ``flagged.csv``.

    Parameters
    ----------
    model
        A :class:`~riskscore.model.RiskModel`, a model file path or a shipped name.
    records
        The batch (a DataFrame or a parquet/CSV path).
    out_dir
        Folder to write into (created if its parent exists).
    max_cases
        Flagged cases shown in full, by decreasing risk; the rest are listed in ``flagged.csv`` and the
        page says how many were left out.
    title
        Page title.

    Returns
    -------
    ReviewResult

    Raises
    ------
    OutputError
        ``out_dir`` is an existing file, its parent folder is missing, or it cannot be written.
    ParameterError
        ``max_cases`` is not a whole number >= 0.
    SchemaError
        ``records`` is unreadable or does not match the model's spec.
    """
    jinja2 = require("jinja2", extra="report", feature="the review report")
    from riskscore.model import RiskModel, load

    if isinstance(max_cases, bool) or not isinstance(max_cases, numbers.Integral) or max_cases < 0:
        raise ParameterError(
            f"max_cases must be a whole number >= 0 (0 lists every case in flagged.csv only); got {max_cases!r}"
        )
    out = check_output_folder(out_dir, create=True)  # before any work: a file or a missing parent fails
    m = model if isinstance(model, RiskModel) else load(model)
    # a CSV is read with the spec's types, so codes such as HS 080510 keep their leading zero
    frame = read_table(records, spec=m.spec) if isinstance(records, str | os.PathLike) else records
    frame = frame.reset_index(drop=True)
    pred = m.predict(frame)
    spec = m.spec
    flagged_mask = pred["channel"].isin(["yellow", "red"]).to_numpy()
    flagged_idx = np.flatnonzero(flagged_mask)
    flagged_idx = flagged_idx[np.argsort(-pred["risk_score"].to_numpy()[flagged_idx], kind="stable")]
    shown_idx = flagged_idx[:max_cases]
    labels = {c.name: (c.description or c.name) for c in spec.columns}
    declared = [c.name for c in spec.columns if c.declared]
    has_truth = "truth_mechanism" in frame.columns
    # one explanation of every flagged case (cards and CSV), one of a sample for the overall drivers
    ex = m.explain(frame.iloc[flagged_idx]) if len(flagged_idx) else None
    sample_idx = (
        np.sort(np.random.default_rng(0).choice(len(frame), 800, replace=False))
        if len(frame) > 800
        else np.arange(len(frame))
    )
    ex_sample = m.explain(frame.iloc[sample_idx]) if len(sample_idx) else None
    cases = []
    for k, i in enumerate(shown_idx):
        assert ex is not None
        row = frame.iloc[i]
        cases.append(
            {
                "rank": k + 1,
                "id": str(pred["record_id"].iloc[i]),
                "channel": str(pred["channel"].iloc[i]),
                "risk": float(pred["risk_score"].iloc[i]),
                "p_red": float(pred["p_red"].iloc[i]),
                "why": str(pred["selection_reason"].iloc[i]),
                "reasons": [{"code": r.code, "text": r.text} for r in ex.reasons[k]],
                "fields": [(labels.get(c, c), _show(row.get(c))) for c in declared if c in frame.columns],
                "waterfall": _waterfall(float(ex.base_value[k]), ex.fields.iloc[k], labels),
                "mechanism": (
                    None
                    if not has_truth
                    else (
                        _show(row.get("truth_mechanism"))
                        if row.get("truth_violation")
                        else "none (compliant)"
                    )
                ),
            }
        )
    counts = pred["channel"].value_counts().reindex(["green", "yellow", "red"]).fillna(0).astype(int)
    n = max(len(pred), 1)
    policy = m.policy
    capacity = {
        "red": policy.red_share + policy.random_red,
        "yellow": policy.yellow_share + policy.random_yellow,
    }
    summary = [
        {"channel": ch, "records": int(counts[ch]), "share": counts[ch] / n, "capacity": capacity.get(ch)}
        for ch in ("green", "yellow", "red")
    ]
    reasons = pred["selection_reason"].value_counts()
    plots = (
        _plots(pred, ex_sample.fields, pred["risk_score"].to_numpy()[sample_idx], labels)
        if ex_sample is not None
        else {}
    )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskscore.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    html = env.get_template("review.html").render(
        title=title or f"Review: {len(flagged_idx):,} flagged of {len(pred):,} {spec.name} records",
        model_version=m.version,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        total=len(pred),
        flagged=len(flagged_idx),
        shown=len(shown_idx),
        left_out=len(flagged_idx) - len(shown_idx),
        summary=summary,
        reasons=[(str(k), int(v)) for k, v in reasons.items()],
        plots=plots,
        cases=cases,
        has_truth=has_truth,
        kind=spec.name,
    )
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the report folder {str(out)!r} ({exc.strerror or exc}); choose a folder you can "
            "write to"
        ) from None
    index = atomic_write_text(out / "index.html", html)
    flagged_frame = pred.iloc[flagged_idx].reset_index(drop=True)
    reasons_of = ex.reasons if ex is not None else []
    # the same columns whether or not anything was flagged
    flagged_frame["reason_codes"] = pd.Series(
        [";".join(r.code for r in rs) for rs in reasons_of], dtype=object
    )
    flagged_frame["reasons"] = pd.Series([" | ".join(r.text for r in rs) for rs in reasons_of], dtype=object)
    # flagged.csv is opened by people in spreadsheets: formula-like text is neutralised, fields quoted
    csv = safe_csv(flagged_frame, out / "flagged.csv")
    return ReviewResult(index, csv, len(pred), len(flagged_idx), len(shown_idx))


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float | np.floating):
        return f"{float(value):,.2f}"
    return str(value)
