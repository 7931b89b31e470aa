"""Matplotlib for the HTML pages (review report, simulation, monitoring): headless, figures inlined as SVG."""

from __future__ import annotations

import io
from typing import Any

from riskscore._optional import require


def pyplot(feature: str) -> Any:
    """Return ``matplotlib.pyplot`` on the headless Agg backend (a clear error if matplotlib is missing)."""
    require("matplotlib", extra="report", feature=feature)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    return plt


def inline_svg(fig: Any) -> str:
    """Return the figure as an ``<svg>`` element to inline in a page, and close it."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG is inlined
