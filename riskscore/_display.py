"""Notebook views (``_repr_html_``) of RiskModel, TrainResult and Explanation, and their shared pieces.

Every value shown may come from untrusted input: record ids and reason sentences quote a declaration's
fields, and a model file's rule notes, versions and training notes are whatever the file holds. So text
only ever enters the markup through :func:`text` (``html.escape``); the only strings passed through
unescaped are :class:`HTML` values built here from escaped parts. No script, no external resource.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from riskscore.explain import Explanation
    from riskscore.model import RiskModel
    from riskscore.training import TrainResult

#: Records listed in an Explanation's view, and fields in its importance table.
MAX_RECORDS = 20
MAX_FIELDS = 10

_BOX = "font-family: sans-serif; font-size: 0.9em; max-width: 60em"
_CELL = "text-align: left; vertical-align: top; padding: 0.15em 0.6em"


class HTML(str):
    """Markup built here from escaped parts: :func:`text` passes it through unchanged."""

    __slots__ = ()

    def __add__(self, other: str) -> HTML:
        """Join markup: other markup as it is, anything else escaped."""
        return HTML(str.__add__(self, text(other)))


def text(value: Any) -> HTML:
    """Return ``value`` as escaped HTML text (markup already built here is kept as it is).

    Examples
    --------
    >>> text("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    """
    if isinstance(value, HTML):
        return value
    return HTML(escape(str(value), quote=True))


# -- numbers as people read them ------------------------------------------------------------------------


def share(value: Any) -> str:
    """Return a share as a percentage with up to three significant digits: ``0.045`` -> ``'4.5%'``.

    Examples
    --------
    >>> share(0.045), share(0.14), share(0.005), share(float("nan"))
    ('4.5%', '14%', '0.5%', 'n/a')
    """
    try:
        x = float(value) * 100
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}%" if abs(x) < 1000 else f"{x:,.0f}%"


def probability(p: float) -> str:
    """Return a probability as a percentage with the digits that matter at its end of the scale.

    Examples
    --------
    >>> probability(0.0123), probability(0.163), probability(0.9995), probability(0.00001)
    ('1.2%', '16%', '99.95%', '<0.01%')
    """
    x = float(p) * 100
    if not math.isfinite(x):
        return "n/a"
    if x < 0.01:
        return "<0.01%" if x > 0 else "0%"
    if x < 9.95:
        return f"{x:.2g}%"
    if x <= 90:
        return f"{x:.0f}%"
    if x > 99.99:
        return ">99.99%" if x < 100 else "100%"
    rest = f"{100 - x:.2g}"  # near one, two significant digits of the complement
    return f"{x:.{len(rest.partition('.')[2])}f}%"


def number(value: Any) -> str:
    """Return a count with thousands separators, a float with four significant digits, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}" if math.isfinite(value) else "n/a"
    if isinstance(value, list | tuple):
        return ", ".join(number(v) for v in value)
    return str(value)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# -- markup ---------------------------------------------------------------------------------------------


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None) -> HTML:
    """Return an HTML table; every cell is escaped unless it is :class:`HTML`."""
    parts = ["<table>"]
    if header is not None:
        cells = "".join(f'<th style="{_CELL}">{text(h)}</th>' for h in header)
        parts.append(f"<thead><tr>{cells}</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f'<td style="{_CELL}">{text(c)}</td>' for c in row) + "</tr>")
    parts.append("</tbody></table>")
    return HTML("".join(parts))


def key_values(pairs: Iterable[tuple[str, Any]]) -> HTML:
    """Return a two-column table of names and values (both escaped unless :class:`HTML`)."""
    rows = "".join(
        f'<tr><th style="{_CELL}">{text(k)}</th><td style="{_CELL}">{text(v)}</td></tr>' for k, v in pairs
    )
    return HTML(f"<table><tbody>{rows}</tbody></table>")


def section(title: str, body: str, *, expanded: bool = True) -> HTML:
    """Return a collapsible section (``<details>``) with an escaped title around markup ``body``."""
    return HTML(
        f"<details{' open' if expanded else ''}><summary><b>{text(title)}</b></summary>{text(body)}</details>"
    )


def ordered(items: Iterable[Any]) -> HTML:
    """Return an ordered list of escaped items."""
    return HTML(
        "<ol style='margin: 0; padding-left: 1.4em'>"
        + "".join(f"<li>{text(i)}</li>" for i in items)
        + "</ol>"
    )


def box(title: str, subtitle: str, parts: Iterable[str]) -> HTML:
    """Return the outer block of a view: an escaped heading, then sections of markup."""
    head = f"<p style='margin: 0.2em 0'><b>{text(title)}</b> {text(subtitle)}</p>"
    return HTML(f'<div class="riskscore-repr" style="{_BOX}">{head}{"".join(text(p) for p in parts)}</div>')


# -- the objects' views ---------------------------------------------------------------------------------


def metrics_rate(metrics: Any, rate: float = 0.05) -> float | None:
    """Return the held-out precision at ``rate`` from ``model.info["metrics"]``, or None if absent.

    The observed (inspection outcome, inverse-propensity weighted) figure when the window has outcomes,
    else the truth figure of a synthetic window; None for anything missing or malformed.
    """
    if not isinstance(metrics, Mapping):
        return None
    for key in ("observed", "truth"):
        rows = metrics.get(key)
        if not isinstance(rows, list):
            continue
        for row in rows:
            if isinstance(row, Mapping) and isinstance(row.get("rate"), int | float):
                if math.isclose(float(row["rate"]), rate) and isinstance(row.get("precision"), int | float):
                    return float(row["precision"])
    return None


def _metrics_html(metrics: Any) -> HTML:
    """Return the held-out evaluation stored in ``model.info["metrics"]`` (tables per rate)."""
    if not isinstance(metrics, Mapping):
        return HTML("")
    summary = [
        (k, " to ".join(map(str, v)) if k == "period" and isinstance(v, list) else number(v))
        for k, v in metrics.items()
        if k not in ("observed", "truth")
    ]
    parts = [key_values(summary)]
    titles = {
        "observed": "Inspection outcomes (hit rate among inspected records in the top, inverse-propensity weighted)",
        "truth": "Synthetic truth",
    }
    for key, title in titles.items():
        rows = metrics.get(key)
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows) or not rows:
            continue
        columns = [c for c in rows[0] if c != "rate"]
        body = [[share(r.get("rate")), *(number(r.get(c)) for c in columns)] for r in rows]
        parts.append(HTML(f"<p style='margin: 0.4em 0 0.1em'>{text(title)}</p>"))
        parts.append(table(body, ["inspection rate", *columns]))
    return HTML("".join(parts))


def _training_pairs(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    labels = {
        "trained_at": "trained at",
        "label": "label",
        "training_rows": "training records",
        "training_labelled_rows": "of which inspected (labelled)",
        "validation_rows": "validation records",
        "training_period": "training period",
        "training_data_sha256": "training data SHA-256",
        "best_iteration": "boosting rounds (risk)",
        "severity_best_iteration": "boosting rounds (severity)",
        "severity_prior": "severity prior P(red | violation)",
        "include_protected": "protected attributes used",
    }
    pairs = []
    for key, value in info.items():
        if key in ("features", "metrics", "model_version"):
            continue
        shown = (
            " to ".join(map(str, value)) if key == "training_period" and isinstance(value, list) else value
        )
        if key == "include_protected" and not value:
            shown = "none"
        pairs.append((labels.get(key, key.replace("_", " ")), number(shown)))
    return pairs


def risk_model_html(model: RiskModel) -> HTML:
    """Return the notebook view of a RiskModel: spec, inputs, features, policy and training."""
    spec, policy = model.spec, model.policy
    declared = [c for c in spec.columns if c.declared]
    required = sum(c.required for c in declared)
    names = list(getattr(model.features, "feature_names_", []))
    severity = (
        f"LightGBM, {model.severity.best_iteration_} rounds"
        if model.severity is not None
        else f"constant prior {share(model.severity_prior)}"
    )
    summary = key_values(
        [
            ("version", model.version),
            ("spec", f"{spec.name} v{spec.version} (fingerprint {spec.fingerprint()[:12]})"),
            ("inputs", f"{required} required and {len(declared) - required} optional declared columns"),
            ("id / time column", f"{spec.id_column} / {spec.time_column}"),
            ("features", _count(len(names), "feature")),
            ("severity (red rather than yellow)", severity),
        ]
    )
    shares = key_values(
        [
            ("model red share", share(policy.red_share)),
            ("model yellow share", share(policy.yellow_share)),
            ("random red / yellow", f"{share(policy.random_red)} / {share(policy.random_yellow)}"),
            ("red threshold (P(red))", number(policy.red_threshold_)),
            ("yellow threshold (risk score)", number(policy.yellow_threshold_)),
        ]
    )
    rules = (
        table(
            [[r.column, r.op, number(r.value), r.channel, r.note] for r in policy.rules],
            ["column", "operator", "value", "channel", "note"],
        )
        if policy.rules
        else HTML("<p>No rules.</p>")
    )
    parts = [
        summary,
        section(
            f"Policy: red {share(policy.red_share)}, yellow {share(policy.yellow_share)}", shares + rules
        ),
        section(f"Features ({len(names)})", ordered(names), expanded=False),
        section("Training", key_values(_training_pairs(model.info)), expanded=False),
    ]
    if isinstance(model.info.get("metrics"), Mapping):
        parts.append(section("Held-out evaluation", _metrics_html(model.info["metrics"]), expanded=False))
    return box("RiskModel", model.version, parts)


def train_result_html(result: TrainResult) -> HTML:
    """Return the notebook view of a TrainResult: its windows and the held-out evaluation stored at training.

    ``result.report()`` is not run here: it scores the whole test window (seconds for 100,000 records), too
    slow for a view a notebook redraws whenever the object is shown.
    """
    model, test, info = result.model, result.test, result.model.info
    time_column = model.spec.time_column
    test_period = ""
    if len(test) and time_column in test.columns:
        test_period = f"{test[time_column].min()} to {test[time_column].max()}"
    inspected: Any = ""
    if len(test) and "inspected" in test.columns:
        inspected = int(test["inspected"].fillna(False).astype(bool).sum())
    period = info.get("training_period")
    windows = table(
        [
            [
                "train",
                number(result.train_rows),
                number(info.get("training_labelled_rows", "")),
                " to ".join(map(str, period)) if isinstance(period, list) else "",
            ],
            ["validation", number(result.valid_rows), "", ""],
            ["test (held out)", number(len(test)), number(inspected), test_period],
        ],
        ["window", "records", "inspected", "period"],
    )
    parts = [windows]
    metrics = info.get("metrics")
    if isinstance(metrics, Mapping):
        parts.append(section("Held-out evaluation (computed at training)", _metrics_html(metrics)))
    parts.append(
        HTML(
            "<p style='margin: 0.4em 0'>"
            + text(
                f"result.report() compares the model with the oracle, random, legacy and logistic rankings "
                f"on the test window (it scores its {len(test):,} records)."
            )
            + "</p>"
        )
    )
    baseline = "logistic regression" if result.baseline is not None else "none"
    parts.append(key_values([("baseline", baseline)]))
    parts.append(section("Model", risk_model_html(model), expanded=False))
    return box("TrainResult", model.version, parts)


def top_reason_counts(ex: Explanation, n: int = 3) -> list[tuple[str, int]]:
    """Return the most frequent first-ranked reason codes of an explanation, with their counts."""
    return Counter(rs[0].code for rs in ex.reasons if rs).most_common(n)


def explanation_html(ex: Explanation, importance: Any) -> HTML:
    """Return the notebook view of an Explanation: the first records' reasons and the global importance.

    ``importance``: :func:`riskscore.explain.global_importance` of ``ex`` (a Series by field).
    """
    n = len(ex.raw)
    labels = ex.labels
    rows = []
    for i in range(min(n, MAX_RECORDS)):
        reasons = ordered(f"{r.text} ({r.code}, {r.contribution:+.2f})" for r in ex.reasons[i])
        risk = f"{probability(_expit(ex.base_value[i]))} to {probability(_expit(ex.raw[i]))}"
        record = HTML(f"<span style='white-space: nowrap'>{text(ex.record_ids.iloc[i])}</span>")
        rows.append([number(i), record, risk, reasons if ex.reasons[i] else "none"])
    listed = table(rows, ["#", "record", "risk (base to record)", "top reasons (log-odds contribution)"])
    more = f"; the first {MAX_RECORDS} shown" if n > MAX_RECORDS else ""
    parts = [section(f"Reasons per record ({n:,} records{more})", listed)]
    if n:
        imp = importance
        top = imp.iloc[:MAX_FIELDS]
        body = table(
            [[labels.get(str(f), str(f)), f"{v:.3f}"] for f, v in top.items()],
            ["field", "mean |contribution| (log-odds)"],
        )
        rest = len(imp) - len(top)
        if rest > 0:
            body += HTML(f"<p style='margin: 0.2em 0'>{text(_count(rest, 'more field'))}</p>")
        parts.append(section("Global importance", body))
    subtitle = (
        f"{_count(n, 'record')}, {_count(ex.contributions.shape[1], 'feature')}, "
        f"{_count(ex.fields.shape[1], 'declared field')}"
        + (", with severity contributions" if ex.severity is not None else "")
    )
    return box("Explanation", subtitle, parts)


def _expit(x: Any) -> float:
    from scipy.special import expit

    return float(expit(float(x)))


# -- the waterfall plot of one record ---------------------------------------------------------------------


def probability_marks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Return round probabilities between ``lo`` and ``hi`` for an axis, at most ``most`` of them.

    Examples
    --------
    >>> probability_marks(0.009, 0.6)
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
    >>> probability_marks(0.0085, 0.0125)
    [0.009, 0.01, 0.012]
    """
    steps = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)
    low = {round(m * 10.0**k, 12) for k in range(-6, 0) for m in steps} | {0.5}
    every = {p for p in low | {round(1 - p, 12) for p in low} if 0 < p < 1}
    inside = sorted(p for p in every if lo <= p <= hi)
    if len(inside) <= most:
        return inside

    def plain(p: float) -> bool:  # 1, 2 or 5 times a power of ten (or one minus that), or 0.3
        q = min(p, 1 - p)
        return round(q / 10.0 ** math.floor(math.log10(q)), 9) in (1, 2, 5) or math.isclose(q, 0.3)

    pool = [p for p in inside if plain(p)]
    pool = pool if len(pool) >= 2 else inside
    keep = np.unique(np.linspace(0, len(pool) - 1, min(most, len(pool))).round().astype(int))
    return [pool[k] for k in keep]


def _plain(label: str) -> str:
    """Return text matplotlib shows as it is: a ``$`` would otherwise start a mathtext formula."""
    return label.replace("$", r"\$")


def _field_label(ex: Explanation, name: str) -> str:
    label = ex.labels.get(name)
    if label is None:  # the spec's default display: the name with spaces, capitalised
        label = name.replace("_", " ")
        label = label[:1].upper() + label[1:]
    return label


def waterfall_bars(ex: Explanation, i: int, max_bars: int) -> list[tuple[str, float]]:
    """Return one record's waterfall bars, (label, contribution): largest fields first, then the rest."""
    row = ex.fields.iloc[i]
    order = list(row.abs().sort_values(ascending=False, kind="stable").index)
    shown = order if len(order) <= max_bars else order[: max_bars - 1]
    bars = [(_field_label(ex, str(f)), float(row[f])) for f in shown]
    if len(shown) < len(order):
        rest = [f for f in order if f not in set(shown)]
        bars.append((f"{len(rest)} other fields", float(row[rest].sum())))
    return bars


def plot_waterfall(ex: Explanation, i: Any, *, max_bars: Any, ax: Any) -> Any:
    """Draw :meth:`Explanation.plot_waterfall` (see there)."""
    from riskscore._optional import require
    from riskscore.exceptions import ParameterError

    n = len(ex.raw)
    if isinstance(i, bool) or not isinstance(i, int | np.integer) or not -n <= i < n:
        raise ParameterError(
            f"i must be the position of a record in the explanation, 0 to {n - 1} (or negative from the end); "
            f"got {i!r}"
        )
    if isinstance(max_bars, bool) or not isinstance(max_bars, int | np.integer) or max_bars < 1:
        raise ParameterError(
            f"max_bars must be a whole number >= 1; got {max_bars!r}. Pass e.g. max_bars=10."
        )
    require("matplotlib", extra="report", feature="plots")
    from matplotlib.ticker import FixedLocator, FuncFormatter
    from scipy.special import expit, logit

    i = int(i) % n
    bars = waterfall_bars(ex, i, int(max_bars))
    base, raw = float(ex.base_value[i]), float(ex.raw[i])
    starts, level = [], base
    for _, value in bars:
        starts.append(level)
        level += value
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7.0, 0.45 * len(bars) + 1.9), layout="constrained")
    values = [v for _, v in bars]
    colors = ["#c62828" if v > 0 else "#1565c0" for v in values]
    y = np.arange(len(bars))
    container = ax.barh(y, values, left=starts, color=colors, height=0.62)
    ax.bar_label(container, labels=[f"{v:+.2f}" for v in values], padding=3, fontsize=8)
    ax.set_yticks(y, [_plain(label) for label, _ in bars])
    ax.invert_yaxis()  # the largest contribution on top
    ax.axvline(base, color="#888888", linestyle="--", linewidth=0.9)
    ax.axvline(raw, color="#333333", linewidth=0.9)
    ends = [base, raw, *(s + v for s, v in zip(starts, values, strict=True))]
    lo, hi = min(ends), max(ends)
    pad = 0.15 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(f"risk log-odds: base {base:.2f}, record {raw:.2f} (right = riskier)")
    ax.set_title(
        _plain(f"{ex.record_ids.iloc[i]}: risk from {probability(expit(base))} to {probability(expit(raw))}"),
        fontsize=10,
    )
    # the same axis read as probabilities: marks at round probabilities inside the shown range
    top = ax.secondary_xaxis(
        "top", functions=(lambda x: expit(x), lambda p: logit(np.clip(p, 1e-12, 1 - 1e-12)))
    )
    p_lo, p_hi = expit(lo - pad), expit(hi + pad)
    marks = probability_marks(float(p_lo), float(p_hi))
    if len(marks) < 2:  # a range too narrow for round marks: mark the base and the record themselves
        marks = sorted({*marks, float(expit(base)), float(expit(raw))})
    top.xaxis.set_major_locator(FixedLocator(marks))
    top.xaxis.set_major_formatter(FuncFormatter(lambda p, _pos: probability(p)))
    top.set_xlabel("probability that an inspection finds a violation", fontsize=8)
    top.tick_params(labelsize=8)
    return ax
