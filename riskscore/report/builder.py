"""The review report: a self-contained HTML page an officer opens before an inspection.

One file, no network access needed: styles, script and charts are inline. Every red case is on the page,
then yellow cases by decreasing risk up to ``max_cases``; each says in words what decided its channel. Case
details (reasons, a waterfall of the fields' effect on the risk, the declared fields) stay collapsed until
opened and are drawn from a JSON block, so a review of thousands of records stays light.

Record fields are untrusted text. They reach the page only through Jinja2 with autoescaping, or inside the
JSON block with ``<``, ``>`` and ``&`` escaped; the script reads that JSON and sets ``textContent``, and never
builds HTML from data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from riskscore._io import atomic_write_text, check_output_folder, read_table, safe_csv
from riskscore._optional import require
from riskscore._plots import inline_svg, pyplot
from riskscore._progress import progress_bar, wants_progress
from riskscore.exceptions import OutputError, ParameterError, SpecError

__all__ = ["ReviewBatch", "ReviewResult", "build_review", "write_review"]

MAX_CASES = 1000
#: Cases per page of the cases table.
PAGE_SIZE = 50
#: Fields drawn in a case's waterfall; the others are summed into one bar.
WATERFALL_BARS = 8
#: Records explained for the overall "what drives the scores" plot.
SAMPLE = 800
#: A history key unseen in more than this share of a batch gets a warning.
UNSEEN_WARNING = 0.30
#: Records explained per step (the progress bar moves between steps).
_CHUNK = 1000
_SELECTION_MEANS = {
    "model": "the model's score reached the channel's threshold",
    "rule": "a mandatory rule of the policy",
    "random": "a random draw from the record id (exploration: finds what the model does not expect)",
    "exempt": "a trusted trader, not selected by the model",
    "none": "not selected: released green",
}


@dataclass
class ReviewResult:
    """What build_review wrote.

    ``shown`` counts the cases on the page: every red one, then yellow ones up to ``max_cases``.
    """

    index: Path
    flagged_csv: Path
    records: int
    flagged: int
    shown: int


def build_review(
    model: Any,
    records: pd.DataFrame | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    max_cases: int = MAX_CASES,
    title: str | None = None,
    progress: bool | None = None,
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
        Cases shown on the page. Every red case is shown whatever this says; yellow cases follow by
        decreasing risk until this many cases are shown. The others are listed in ``flagged.csv`` (which
        holds every flagged case) and the page says how many they are.
    title
        Page title.
    progress
        Show a progress bar on stderr; ``None`` shows one when stderr is a terminal.

    Returns
    -------
    ReviewResult

    Raises
    ------
    OutputError
        ``out_dir`` is an existing file, its parent folder is missing, or it cannot be written.
    ParameterError
        ``max_cases`` is not a whole number >= 0, or ``progress`` is not True, False or None.
    SchemaError
        ``records`` is unreadable or does not match the model's spec.
    """
    require("jinja2", extra="report", feature="the review report")  # before any work
    from riskscore.model import RiskModel, load

    check_max_cases(max_cases)
    show_progress = wants_progress(progress)
    out = check_output_folder(out_dir, create=True)  # before any work: a file or a missing parent fails
    m = model if isinstance(model, RiskModel) else load(model)
    # a CSV is read with the spec's types, so codes such as HS 080510 keep their leading zero
    frame = read_table(records, spec=m.spec) if isinstance(records, str | os.PathLike) else records
    frame = frame.reset_index(drop=True)
    n = len(frame)
    sample_idx = (
        np.sort(np.random.default_rng(0).choice(n, SAMPLE, replace=False)) if n > SAMPLE else np.arange(n)
    )
    with progress_bar(show_progress, total=n + len(sample_idx), desc="review") as bar:
        pred = m.predict(frame)
        bar.update(n)
        channel = pred["channel"].astype(str).to_numpy()
        risk = pred["risk_score"].to_numpy(dtype=np.float64)
        flagged_idx = flagged_order(channel, risk)
        bar.total = n + len(flagged_idx) + len(sample_idx)
        bar.refresh()
        shown = shown_rows(channel[flagged_idx], max_cases)
        # one explanation of every flagged case (cards and CSV), one of a sample for the overall drivers
        ex = _explain(m, frame, flagged_idx, bar)
        ex_sample = _explain(m, frame, sample_idx, bar)
        channels, selection, unseen = batch_counts(pred)
        batch = ReviewBatch(
            records=n,
            channels=channels,
            selection=selection,
            unseen=unseen,
            flagged=with_reasons(pred.iloc[flagged_idx], ex.reasons if ex is not None else []),
            shown=frame.iloc[flagged_idx[shown]],
            shown_explanation=ex.take(shown) if ex is not None else None,
            sample=frame.iloc[sample_idx],
            sample_predictions=pred.iloc[sample_idx],
            sample_explanation=ex_sample,
        )
        return write_review(m, batch, out, max_cases=max_cases, title=title)


@dataclass
class ReviewBatch:
    """What a review page is made of, however the batch was scored (one machine or a cluster).

    Attributes
    ----------
    records
        Records in the batch.
    channels
        Records per channel (red, yellow, green).
    selection
        Records per selection reason (model, rule, random, exempt, none), most frequent first.
    unseen
        Share of the batch whose key of each history feature has no earlier record.
    flagged
        The flagged records' decisions (``predict``'s columns) by decreasing risk, with ``reason_codes`` and
        ``reasons``: the rows of ``flagged.csv``. Red cases first on the page, then yellow ones.
    shown
        The records of the cases on the page (their declared fields), in the page's order:
        :func:`shown_rows` of the flagged ones.
    shown_explanation
        Their explanation, row for row (None when nothing is shown).
    sample, sample_predictions, sample_explanation
        Records of a random sample of the batch, their decisions and explanation (the page's plots).
    """

    records: int
    channels: dict[str, int]
    selection: dict[str, int]
    unseen: dict[str, float]
    flagged: pd.DataFrame
    shown: pd.DataFrame
    shown_explanation: Any
    sample: pd.DataFrame
    sample_predictions: pd.DataFrame
    sample_explanation: Any


def batch_counts(pred: pd.DataFrame) -> tuple[dict[str, int], dict[str, int], dict[str, float]]:
    """Return records per channel, per selection reason (most frequent first), and unseen shares."""
    channel = pred["channel"].astype(str).to_numpy()
    return (
        {ch: int(np.count_nonzero(channel == ch)) for ch in ("red", "yellow", "green")},
        {str(k): int(v) for k, v in pred["selection_reason"].value_counts().items()},
        {str(k): float(v) for k, v in (pred.attrs.get("unseen_history") or {}).items()},
    )


def check_max_cases(max_cases: object) -> int:
    """Return ``max_cases`` as an int, or raise ParameterError naming the fix."""
    if isinstance(max_cases, bool) or not isinstance(max_cases, numbers.Integral) or max_cases < 0:
        raise ParameterError(
            "max_cases must be a whole number >= 0 (red cases are always shown; it caps red and yellow "
            f"cases together, 0 shows the red ones only); got {max_cases!r}"
        )
    return int(max_cases)


def flagged_order(channel: NDArray[Any], risk: NDArray[np.float64]) -> NDArray[np.intp]:
    """Positions of the flagged (yellow or red) records by decreasing risk, ties in record order."""
    flagged = np.flatnonzero(np.isin(channel, ["yellow", "red"]))
    return np.asarray(flagged[np.argsort(-risk[flagged], kind="stable")], dtype=np.intp)


def shown_rows(channel: NDArray[Any], max_cases: int) -> NDArray[np.intp]:
    """Which flagged records (positions in flagged order) the page shows: every red, then yellows.

    Yellow ones follow by decreasing risk until ``max_cases`` cases are shown.
    """
    channel = np.asarray(channel).astype(str)
    reds = np.flatnonzero(channel == "red")
    yellows = np.flatnonzero(channel == "yellow")
    return np.concatenate([reds, yellows[: max(int(max_cases) - len(reds), 0)]]).astype(np.intp)


def with_reasons(decisions: pd.DataFrame, reasons: list[Any]) -> pd.DataFrame:
    """``decisions`` with ``reason_codes`` and ``reasons`` columns from each record's list of reasons."""
    out = decisions.reset_index(drop=True)
    # the same columns whether or not anything was flagged
    out["reason_codes"] = pd.Series([";".join(r.code for r in rs) for rs in reasons], dtype=object)
    out["reasons"] = pd.Series([" | ".join(r.text for r in rs) for rs in reasons], dtype=object)
    return out


def write_review(
    model: Any,
    batch: ReviewBatch,
    out_dir: str | os.PathLike[str],
    *,
    max_cases: int = MAX_CASES,
    title: str | None = None,
) -> ReviewResult:
    """Write ``index.html`` and ``flagged.csv`` of a scored and explained batch into ``out_dir``.

    The second half of :func:`build_review`, and of :func:`riskscore.distributed.review`, which scores the
    batch on a cluster.
    """
    jinja2 = require("jinja2", extra="report", feature="the review report")
    out = check_output_folder(out_dir, create=True)
    m, spec = model, model.spec
    flagged = batch.flagged
    n_flagged = len(flagged)
    shown_pred = flagged.iloc[shown_rows(flagged["channel"].to_numpy(), max_cases)]
    k = len(shown_pred)
    cases, data = _cases(m, batch.shown, shown_pred, np.arange(k), list(range(k)), batch.shown_explanation)
    plots = (
        _plots(m, batch.sample, batch.sample_predictions, batch.sample_explanation)
        if batch.sample_explanation is not None
        else {}
    )
    reds, yellows = int((flagged["channel"] == "red").sum()), int((flagged["channel"] == "yellow").sum())
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskscore.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    n = batch.records
    html = env.get_template("review.html").render(
        title=title or f"Review: {n_flagged:,} flagged of {n:,} {spec.name} records",
        model_version=m.version,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        total=n,
        flagged=n_flagged,
        reds=reds,
        yellows=yellows,
        shown=k,
        left_out=n_flagged - k,
        max_cases=int(max_cases),
        summary=_capacity(m.policy, batch.channels, n),
        unseen=_unseen(spec, batch.unseen),
        unseen_warning=UNSEEN_WARNING,
        reasons=[(str(r), _SELECTION_MEANS.get(str(r), ""), int(v)) for r, v in batch.selection.items()],
        plots=plots,
        cases=cases,
        case_data=_script_json(data),
        page_size=PAGE_SIZE,
        has_truth="truth_mechanism" in batch.shown.columns or "truth_mechanism" in batch.sample.columns,
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
    # flagged.csv is opened by people in spreadsheets: formula-like text is neutralised, fields quoted
    csv = safe_csv(flagged, out / "flagged.csv")
    return ReviewResult(index, csv, n, n_flagged, k)


def _explain(model: Any, frame: pd.DataFrame, idx: NDArray[np.intp], bar: Any) -> Any:
    """:meth:`RiskModel.explain` of ``frame.iloc[idx]`` in steps that move the progress bar.

    Each record's explanation depends only on itself, so the steps join to the one-shot result.
    """
    if len(idx) == 0:
        return None
    from riskscore.explain import Explanation

    parts = []
    for start in range(0, len(idx), _CHUNK):
        step = idx[start : start + _CHUNK]
        parts.append(model.explain(frame.iloc[step]))
        bar.update(len(step))
    return Explanation.concat(parts)


# -- the cases ---------------------------------------------------------------------------------------


def _cases(
    model: Any,
    frame: pd.DataFrame,
    pred: pd.DataFrame,
    shown_idx: NDArray[np.intp],
    ex_rows: list[int],
    ex: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the table rows (rendered by Jinja2) and the details (a JSON block, drawn when opened)."""
    spec = model.spec
    if len(shown_idx) == 0:
        return [], {"fields": [], "contributors": [], "cases": []}
    rows = frame.iloc[shown_idx].reset_index(drop=True)
    decisions = pred.iloc[shown_idx].reset_index(drop=True)
    why = model.policy.why(rows, decisions)
    # the declared fields but the id, which the case's row shows
    declared = [
        c.name for c in spec.columns if c.declared and c.name in rows.columns and c.name != spec.id_column
    ]
    values = [[_show(v) for v in col] for col in (rows[c].tolist() for c in declared)]
    contributors = list(ex.fields.columns)
    fields = ex.fields.to_numpy(dtype=np.float64)[ex_rows]
    base = ex.base_value[ex_rows]
    mechanisms = _mechanisms(rows)
    to_risk = _risk_of_log_odds(model)
    cases: list[dict[str, Any]] = []
    details: list[list[Any]] = []
    for k in range(len(shown_idx)):
        reasons = ex.reasons[ex_rows[k]]
        p_red = float(decisions["p_red"].iloc[k])
        cases.append(
            {
                "rank": k + 1,
                "id": str(decisions["record_id"].iloc[k]),
                "channel": str(decisions["channel"].iloc[k]),
                "risk": _round(float(decisions["risk_score"].iloc[k])),
                "risk_text": _pct(float(decisions["risk_score"].iloc[k])),
                "why": why[k],
                "top_reason": reasons[0].text if reasons else None,
                "mechanism": mechanisms[k] if mechanisms is not None else None,
            }
        )
        # what the page's script reads when the case is opened (review.html, details())
        details.append(
            [
                _round(p_red),
                [[r.text, r.code] for r in reasons],
                [col[k] for col in values],
                _waterfall(float(base[k]), fields[k], to_risk),
            ]
        )
    data = {
        "fields": [spec.column(c).display for c in declared],
        "contributors": [spec.column(c).display for c in contributors],
        "cases": details,
    }
    return cases, data


def _mechanisms(rows: pd.DataFrame) -> list[str] | None:
    """Name the planted mechanism of each record on synthetic data ("S1 undervaluation"), else None."""
    if "truth_mechanism" not in rows.columns:
        return None
    from riskscore.synthetic.scenario import MECHANISM_NAMES

    codes = rows["truth_mechanism"]
    violates = (
        rows["truth_violation"].fillna(False).astype(bool).to_numpy()
        if "truth_violation" in rows.columns
        else codes.notna().to_numpy()
    )
    out = []
    for code, bad in zip(codes.tolist(), violates, strict=True):
        if not bad:
            out.append("none (compliant)")
        elif code is None or (isinstance(code, float) and math.isnan(code)):
            out.append("unknown")
        else:
            out.append(f"{code} {MECHANISM_NAMES.get(str(code), '')}".strip())
    return out


def _risk_of_log_odds(model: Any) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """Map the risk model's log-odds to the calibrated risk score (the map ``predict`` applies)."""
    knots_x, knots_y = model.calibration

    def to_risk(level: NDArray[np.float64]) -> NDArray[np.float64]:
        p = 1.0 / (1.0 + np.exp(-level))
        return np.interp(p, knots_x, knots_y) if len(knots_x) else p

    return to_risk


def _waterfall(
    base: float, contribs: NDArray[np.float64], to_risk: Callable[[NDArray[np.float64]], NDArray[np.float64]]
) -> list[Any]:
    """One record's waterfall: from a typical record's risk, field by field, to this record's risk.

    ``[risk at the base value, [[field index, log-odds step, risk after the step], ...]]``, the largest
    steps first; the other fields summed into one step whose index is minus their count. Each risk is the
    calibrated risk score of the log-odds reached so far, so the last one is the record's risk score.
    """
    order = np.argsort(-np.abs(contribs), kind="stable")
    shown = order[:WATERFALL_BARS]
    steps: list[tuple[int, float]] = [(int(j), float(contribs[j])) for j in shown]
    rest = order[WATERFALL_BARS:]
    if len(rest):
        steps.append((-len(rest), float(contribs[rest].sum())))
    levels = base + np.cumsum([v for _, v in steps]) if steps else np.zeros(0)
    risks = to_risk(np.concatenate([[base], levels]))
    return [
        _round(float(risks[0]), 4),
        [[j, round(v, 3), _round(float(r), 4)] for (j, v), r in zip(steps, risks[1:], strict=True)],
    ]


def _round(p: float, digits: int = 6) -> float:
    """Round a probability to a few significant digits (the page shows two)."""
    return float(f"{p:.{digits}g}")


def _script_json(data: Any) -> str:
    """Write JSON for a ``<script type="application/json">`` block.

    ``<``, ``>`` and ``&`` are written as JSON unicode escapes, so no text from the data can close the block or
    open a comment; JSON.parse reads them back unchanged.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# -- the summary ---------------------------------------------------------------------------------------


def _capacity(policy: Any, channels: dict[str, int], n: int) -> list[dict[str, Any]]:
    """Channel counts against the policy's capacity (its shares times the batch size), overruns marked."""
    shares = {
        "red": policy.red_share + policy.random_red,
        "yellow": policy.yellow_share + policy.random_yellow,
    }
    rows = []
    for ch in ("red", "yellow", "green"):
        count = int(channels.get(ch, 0))
        share = shares.get(ch)
        capacity = None if share is None else round(share * n)
        rows.append(
            {
                "channel": ch,
                "records": count,
                "share": _share(count / n) if n else "\u2013",
                "capacity": capacity,
                "capacity_share": None if share is None else f"{share * 100:.3g}%",
                "over": 0 if capacity is None else count - capacity,
            }
        )
    return rows


def _unseen(spec: Any, rates: dict[str, float]) -> list[dict[str, Any]]:
    """Name the history keys of the batch without an earlier record, the high shares flagged."""
    features = {f.name: f for f in spec.features}
    out = []
    for name, share in rates.items():
        feat = features.get(name)
        parts = []
        for column in feat.inputs if feat is not None else (name,):
            try:
                parts.append(spec.column(column).display)
            except SpecError:  # an input that is itself a derived feature: its name, in words
                parts.append(column.replace("_", " "))
        out.append({"key": " \u00d7 ".join(parts), "share": _share(share), "high": share > UNSEEN_WARNING})
    return out


# -- the plots --------------------------------------------------------------------------------------


def _plots(model: Any, sample: pd.DataFrame, pred: pd.DataFrame, ex: Any) -> dict[str, str]:
    """Draw the score distribution by channel and a beeswarm of the fields driving the scores."""
    plt = pyplot("the review report")
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.ticker import FuncFormatter

    percent = FuncFormatter(lambda x, _: _pct(x))
    out: dict[str, str] = {}
    spec, policy = model.spec, model.policy

    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    colors = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
    risk = pred["risk_score"].to_numpy(dtype=np.float64)
    lo = max(float(np.min(risk)), 1e-5)
    hi = min(max(float(np.max(risk)), lo * 10), 1.0)
    bins = np.geomspace(lo, hi, 40).tolist()
    for ch in ("green", "yellow", "red"):
        sel = (pred["channel"] == ch).to_numpy()
        if sel.any():
            ax.hist(np.clip(risk[sel], lo, hi), bins=bins, color=colors[ch], alpha=0.8, label=ch)
    if np.isfinite(policy.yellow_threshold_):
        ax.axvline(policy.yellow_threshold_, color="#555", lw=1, ls="--")
        ax.annotate(
            f" yellow threshold {_pct(policy.yellow_threshold_)}",
            (policy.yellow_threshold_, 1),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
            color="#555",
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(percent)
    ax.set_yscale("log")
    ax.set_xlabel("risk score: the probability that an inspection finds a violation")
    ax.set_ylabel(f"records (of {len(pred):,} sampled)")
    ax.legend(frameon=False, loc="upper right")
    out["scores"] = inline_svg(fig)

    # beeswarm as shap draws it: a dot per record at its field's contribution, coloured by the field's
    # value (high red, low blue; grey for text, which has no high or low)
    fields = ex.fields
    top = list(fields.abs().mean().sort_values(ascending=False).index[:10][::-1])
    fig, ax = plt.subplots(figsize=(6.4, 0.38 * len(top) + 1.1))
    cmap = LinearSegmentedColormap.from_list("shap", ["#008bfb", "#ff0051"])
    rng = np.random.default_rng(0)
    for i, f in enumerate(top):
        x = fields[f].to_numpy(dtype=np.float64)
        y = i + rng.uniform(-0.3, 0.3, len(x))
        value = _as_number(sample[f]) if f in sample.columns else None
        if value is None:
            ax.scatter(x, y, s=5, color="#9e9e9e", alpha=0.6, linewidths=0, rasterized=True)
            continue
        known = np.isfinite(value)
        lo_v, hi_v = np.nanpercentile(value, [5, 95]) if known.any() else (0.0, 1.0)
        scaled = np.clip((value - lo_v) / ((hi_v - lo_v) or 1.0), 0.0, 1.0)
        ax.scatter(x[~known], y[~known], s=5, color="#9e9e9e", alpha=0.6, linewidths=0, rasterized=True)
        ax.scatter(
            x[known], y[known], s=5, c=scaled[known], cmap=cmap, vmin=0, vmax=1, alpha=0.7, linewidths=0,
            rasterized=True,
        )  # fmt: skip
    ax.set_yticks(range(len(top)), [spec.column(f).display for f in top])
    ax.axvline(0, color="#888", lw=0.8)
    ax.set_xlabel("contribution to the risk, in log-odds (right: riskier; +0.7 doubles the odds)")
    bar = fig.colorbar(ScalarMappable(norm=Normalize(0, 1), cmap=cmap), ax=ax, pad=0.02, aspect=30)
    bar.set_ticks([0, 1], labels=["low", "high"])
    bar.set_label("field value (grey: text)", labelpad=-4)
    bar.outline.set_visible(False)
    out["drivers"] = inline_svg(fig)
    return out


def _as_number(column: pd.Series) -> NDArray[np.float64] | None:
    """Return a column's values as numbers for colouring (times as seconds), or None for text."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return np.asarray((column - column.min()).dt.total_seconds(), dtype=np.float64)
    return None


# -- numbers and values as people read them ---------------------------------------------------------


def _pct(x: float) -> str:
    """Write a probability as a percentage with the digits that matter: 0.00011 -> 0.011%, 0.4 -> 40%.

    The page's script formats the waterfall's probabilities the same way (``pct`` in review.html).
    """
    if not math.isfinite(x):
        return "\u2013"
    v = x * 100
    if v < 0.001:
        return "0%" if v <= 0 else "<0.001%"
    if x < 0.1:
        return f"{v:.2g}%"
    if x <= 0.9:
        return f"{v:.0f}%"
    r = (1 - x) * 100
    if r < 0.001:
        return ">99.999%"
    return f"{100 - float(f'{r:.2g}'):.6g}%"


def _share(x: float) -> str:
    """Write a share of the batch: one decimal, more digits when it would read 0.0%."""
    return f"{x:.1%}" if x == 0 or x >= 0.001 else _pct(x)


def _show(value: Any) -> str:
    """Write a declared value as the page shows it (missing: empty; yes/no; times to the minute)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else f"{float(value):,.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
