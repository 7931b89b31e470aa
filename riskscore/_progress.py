"""One progress-bar helper for every long step (generation, training, scoring, explanation, review).

Bars go to stderr, carry a total when it is known, and are on by default only on a terminal: a notebook
or a pipeline asks for them with ``progress=True`` (or never sees them with ``progress=False``).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar", "wants_progress"]


def wants_progress(progress: bool | None) -> bool:
    """Resolve a ``progress=`` argument: ``None`` means "on when stderr is a terminal"."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not isinstance(progress, bool):
        from riskscore.exceptions import ParameterError

        raise ParameterError(f"progress must be True, False or None (on a terminal only); got {progress!r}")
    return progress


def progress_bar(progress: bool | None, *, total: int | None, desc: str, unit: str = "rows") -> Any:
    """Return a tqdm bar (a disabled one when progress is off); use it as a context manager.

    Examples
    --------
    >>> with progress_bar(False, total=3, desc="score") as bar:
    ...     bar.update(3)
    """
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        disable=not wants_progress(progress),
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
