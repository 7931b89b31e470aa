"""Message helpers shared by the spec checks and the frame validation: lists, suggestions, values."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd

__all__ = ["did_you_mean", "fmt_number", "quote_list", "show"]


def quote_list(items: Iterable[object]) -> str:
    """Return ``'a', 'b'``: items as reprs, comma-separated."""
    return ", ".join(repr(item) for item in items)


def did_you_mean(word: str, candidates: Iterable[str], n: int = 1) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidates, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    if not matches:
        return ""
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)"


def fmt_number(value: float) -> str:
    """Format a bound the way a person writes it: ``0`` rather than ``0.0``, ``1e+12`` stays compact."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def show(value: object) -> str:
    """Render one offending value for an error message."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "None"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, pd.Timestamp | datetime | date):
        return repr(str(value))
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text
