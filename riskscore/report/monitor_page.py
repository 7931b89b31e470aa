"""The monitoring page: a small self-contained HTML page of a :class:`~riskscore.monitoring.MonitorReport`.

One file, no script, no network: styles inline, plots as inline SVG. Field names, categories and group names
come from the data; they reach the page only through Jinja2 with autoescaping (inside SVG ``<text>`` too),
never as markup. Plot geometry is computed here, in numbers only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from riskscore._optional import require

__all__ = ["render_monitor"]

#: Fields drawn as bar charts (those with the largest PSI); every field is in the table.
PLOTTED_FIELDS = 6
#: Groups drawn per attribute in the fairness plots (the largest; every tested group is in the table).
PLOTTED_GROUPS = 16
_COLORS = {"reference": "#90a4ae", "batch": "#12355b", "target": "#f9a825"}
_STATUS_ORDER = {"act": 0, "watch": 1, "stable": 2, "n/a": 3, "": 4}


def _pct(x: Any) -> str:
    if x is None or not isinstance(x, int | float) or not math.isfinite(x):
        return "n/a"
    v = x * 100
    return f"{v:.2g}%" if 0 < v < 1 else f"{v:.1f}%"


def _bars(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, width: int = 620
) -> dict[str, Any]:
    """Geometry of a grouped bar chart of shares: one group per label, one bar per series."""
    height, left, top, bottom = 200, 44, 22, 78
    plot_w, plot_h = width - left - 8, height - top - bottom
    n, k = max(len(labels), 1), max(len(series), 1)
    peak = max([v for _, values in series for v in values if v is not None] + [1e-9])
    group = plot_w / n
    bar = group * 0.8 / k
    rects = []
    for j, (name, values) in enumerate(series):
        for i, v in enumerate(values):
            h = 0.0 if v is None else plot_h * v / peak
            rects.append(
                {
                    "x": round(left + i * group + group * 0.1 + j * bar, 2),
                    "y": round(top + plot_h - h, 2),
                    "w": round(max(bar - 1, 1), 2),
                    "h": round(h, 2),
                    "color": _COLORS.get(name, "#555"),
                    "title": f"{labels[i]}: {name} {_pct(v)}",
                }
            )
    ticks = [
        {"x": round(left + (i + 0.5) * group, 2), "y": top + plot_h + 10, "text": label}
        for i, label in enumerate(labels)
    ]
    legend = [
        {"x": left + 110 * j, "color": _COLORS.get(name, "#555"), "text": name}
        for j, (name, _) in enumerate(series)
    ]
    return {
        "width": width,
        "height": height,
        "rects": rects,
        "ticks": ticks,
        "legend": legend,
        "axis": {"x1": left, "x2": left + plot_w, "y": top + plot_h, "top": top, "peak": _pct(peak)},
    }


def _intervals(rows: Sequence[Mapping[str, Any]], overall: float | None) -> dict[str, Any]:
    """Geometry of a dot-and-interval chart of selection rates, one line per group."""
    rows = list(rows)[:PLOTTED_GROUPS]
    left, right, top, line = 150, 16, 18, 18
    width = 620
    height = top + line * len(rows) + 26
    peak = max([r["selection_interval"][1] or 0.0 for r in rows] + [overall or 0.0, 1e-9]) * 1.1
    span = width - left - right

    def x(v: float) -> float:
        return round(left + span * v / peak, 2)

    items = []
    for i, r in enumerate(rows):
        lo, hi = r["selection_interval"]
        y = top + line * i + line / 2
        items.append(
            {
                "y": y,
                "x1": x(lo or 0.0),
                "x2": x(hi or 0.0),
                "cx": x(r["selection_rate"]),
                "label": str(r["group"]),
                "flagged": bool(r["flagged"]),
                "title": f"{r['group']}: {_pct(r['selection_rate'])} selected ({_pct(lo)} to {_pct(hi)})",
            }
        )
    return {
        "width": width,
        "height": height,
        "items": items,
        "overall": None if overall is None else x(overall),
        "axis": {"x1": left, "x2": width - right, "y": height - 20, "peak": _pct(peak)},
    }


def _fairness_plots(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    groups = doc["fairness"]["groups"]
    plots = []
    for selection in ("recorded", "model"):
        for attribute in dict.fromkeys(g["attribute"] for g in groups if g["selection"] == selection):
            rows = [g for g in groups if g["selection"] == selection and g["attribute"] == attribute]
            total = sum(g["records"] for g in rows)
            selected = sum(g["selected"] for g in rows)
            plots.append(
                {
                    "title": f"{selection} selection by {attribute}",
                    "chart": _intervals(rows, selected / total if total else None),
                }
            )
    return plots


def render_monitor(doc: Mapping[str, Any], *, title: str | None = None) -> str:
    """Render a monitoring report (``MonitorReport.to_dict()``) as one self-contained HTML page.

    Parameters
    ----------
    doc
        The report's plain-JSON form.
    title
        Page title; default names the model and the batch size.

    Returns
    -------
    str
        The page.
    """
    jinja2 = require("jinja2", extra="report", feature="the monitoring page")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskscore.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    fields = [f for f in doc["fields"] if f["kind"] != "entity"]
    by_psi = sorted(fields, key=lambda f: -(f["psi"] or 0.0))
    risk = doc["risk"]
    channels = doc["channels"]
    checks = _checks(doc)
    return env.get_template("monitor.html").render(
        title=title or f"Monitoring: {doc['records']:,} records scored by {doc['model_version']}",
        doc=doc,
        pct=_pct,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        checks=checks,
        attention=[c for c in checks if c["status"] in ("act", "watch")],
        risk_chart=_bars(risk["labels"], [("reference", risk["reference"]), ("batch", risk["batch"])]),
        channel_chart=_bars(
            ["green", "yellow", "red"],
            [
                (name, [channels["shares"][c][name] for c in ("green", "yellow", "red")])
                for name in ("target", "reference", "batch")
            ],
            width=420,
        ),
        fields=by_psi,
        field_charts=[
            {
                "name": f["name"],
                "psi": f["psi"],
                "status": f["status"],
                "chart": _bars(f["labels"], [("reference", f["reference"]), ("batch", f["batch"])]),
            }
            for f in by_psi[:PLOTTED_FIELDS]
        ],
        fairness_plots=_fairness_plots(doc),
    )


def _checks(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every check with a status, the worst first (the page's summary)."""
    out = [
        {
            "section": "risk",
            "name": "risk score",
            "value": doc["risk"]["psi"],
            "status": doc["risk"]["status"],
        }
    ]
    out += [
        {"section": "field", "name": f["name"], "value": f["psi"], "status": f["status"]}
        for f in doc["fields"]
        if f["kind"] != "entity"
    ]
    out.append(
        {
            "section": "channels",
            "name": "shares",
            "value": doc["channels"]["psi"],
            "status": doc["channels"]["status"],
        }
    )
    out.append(
        {
            "section": "hit rate",
            "name": "inspections",
            "value": doc["hit_rate"].get("rate"),
            "status": doc["hit_rate"]["status"],
        }
    )
    out += [
        {"section": "unseen", "name": u["name"], "value": u["share"], "status": u["status"]}
        for u in doc["unseen"]
    ]
    out += [
        {
            "section": "fairness",
            "name": f"{g['selection']}: {g['attribute']} = {g['group']}",
            "value": g["selection_rate"],
            "status": g["status"],
        }
        for g in doc["fairness"]["groups"]
    ]
    return sorted(out, key=lambda c: _STATUS_ORDER.get(c["status"], 5))
