"""Public entry points of the generators: one-shot frames, chunk iterators and atomic file writing."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from riskscore._io import ParquetChunks, check_output, publish, temp_beside
from riskscore._progress import progress_bar, wants_progress
from riskscore.exceptions import ParameterError
from riskscore.synthetic import _common as C
from riskscore.synthetic.scenario import Scenario, load_scenario

__all__ = ["World", "generate", "generate_passengers", "generate_shipments", "iter_records", "write_records"]

Kind = Literal["shipments", "passengers"]
ScenarioLike = str | Path | Mapping[str, Any] | Scenario


def _kind(kind: str) -> tuple[Callable[..., Any], Callable[..., dict[str, Any]]]:
    """Return the world builder and block generator of one kind (imported only when generated)."""
    from importlib import import_module

    module = import_module(f"riskscore.synthetic.{kind}")
    return module.build_world, module.block_columns


def _check_args(kind: str, n: object, seed: object, days: object, chunk_rows: object) -> None:
    kinds = ("shipments", "passengers")
    if kind not in kinds:
        raise ParameterError(f"kind must be one of {kinds}; got {kind!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ParameterError(f"n (number of rows) must be a whole number > 0; got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a whole number >= 0; got {seed!r}")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ParameterError(
            f"days must be a whole number >= 1 (or None for the scenario's period); got {days!r}"
        )
    if chunk_rows is not None and (
        isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1
    ):
        raise ParameterError(f"chunk_rows must be a whole number >= 1; got {chunk_rows!r}")


def _as_start(start: str | dt.date | None) -> dt.date | None:
    if start is None or isinstance(start, dt.date):
        return start.date() if isinstance(start, dt.datetime) else start
    try:
        return dt.date.fromisoformat(str(start))
    except ValueError:
        raise ParameterError(f"start must be a date like 2025-01-01; got {start!r}") from None


def iter_records(
    kind: Kind,
    n: int,
    *,
    seed: int = 0,
    scenario: ScenarioLike = "default",
    start: str | dt.date | None = None,
    days: int | None = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield a synthetic data set of ``n`` records in chunks, in time order.

    Concatenating the chunks gives exactly :func:`generate` with the same arguments, whatever
    ``chunk_rows`` is: records are drawn in fixed blocks, each from its own random stream.

    Parameters
    ----------
    kind
        ``"shipments"`` or ``"passengers"``.
    n
        Number of records.
    seed
        Seed of the population and of every record.
    scenario
        Scenario name, TOML path, or a mapping deep-merged over the default scenario.
    start, days
        The simulated period; default: the scenario's.
    chunk_rows
        Rows per yielded frame (default 65,536). The last chunk may be shorter.
    progress
        Show a progress bar of the records generated (out of ``n``): True, False, or None for "only when
        standard error is a terminal".

    Yields
    ------
    pandas.DataFrame

    Examples
    --------
    >>> chunks = iter_records("shipments", 2_500, seed=1, chunk_rows=1_000, progress=False)
    >>> [len(chunk) for chunk in chunks]
    [1000, 1000, 500]
    """
    _check_args(kind, n, seed, days, chunk_rows)
    wants_progress(progress)  # refuse a bad value before any work
    sc = load_scenario(scenario)
    build, block = _kind(kind)
    world = build(sc, n, seed, _as_start(start), days)
    step = chunk_rows or C.BLOCK_ROWS
    pending: list[Any] = []  # block columns, or the rows a chunk carried over
    held = 0
    with progress_bar(progress, total=n, desc=f"generate {kind}") as bar:
        for part in _blocks_in_order(world, block, n):
            length = len(next(iter(part.values())))  # a block's columns, all of its length
            bar.update(length)
            pending.append(part)
            held += length
            while held >= step:
                joined = _concat(pending)
                yield joined.iloc[:step].reset_index(drop=True)
                rest = joined.iloc[step:]
                pending, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield _concat(pending).reset_index(drop=True)


class World:
    """A synthetic population and calendar drawn once, whose records are then drawn period by period.

    For studies that act between periods (``riskscore.simulate``: each week's inspections decide what the
    smugglers do next): the world's drift steps may be extended before a later period is drawn
    (:class:`riskscore.synthetic.adversary.Adversary`). A period's records come from their own random
    streams, so they differ from :func:`generate`'s records of the same days, but the same calls in the
    same order always give the same records.

    Parameters
    ----------
    kind, n, seed, scenario, start, days
        As in :func:`iter_records`; ``n`` is the number of records over the whole period.

    Examples
    --------
    >>> world = World("shipments", 20_000, seed=1, days=28)
    >>> week = world.records(7, 14)
    >>> int(week["declared_at"].dt.floor("D").nunique())
    7
    """

    def __init__(
        self,
        kind: Kind,
        n: int,
        *,
        seed: int = 0,
        scenario: ScenarioLike = "default",
        start: str | dt.date | None = None,
        days: int | None = None,
    ) -> None:
        _check_args(kind, n, seed, days, None)
        self.kind = kind
        self.scenario = load_scenario(scenario)
        build, self._block = _kind(kind)
        self.state = build(self.scenario, n, seed, _as_start(start), days)

    @property
    def start(self) -> dt.date:
        """First day of the period."""
        return dt.date.fromisoformat(str(self.state.start)[:10])  # a date in both worlds

    @property
    def days(self) -> int:
        """Number of days of the period."""
        return int(self.state.days)

    def day_of(self, date: str | dt.date) -> int:
        """Day index (days since :attr:`start`) of a date."""
        day = _as_start(date)
        assert day is not None
        return (day - self.start).days

    def records(self, first_day: int, end_day: int) -> pd.DataFrame:
        """Return the records of days ``first_day`` .. ``end_day - 1`` (day indices from :attr:`start`)."""
        if not 0 <= first_day <= end_day <= self.days:
            raise ParameterError(
                f"days must satisfy 0 <= first_day <= end_day <= {self.days} (the world's period); got "
                f"{first_day}, {end_day}"
            )
        cum = self.state.day_cum
        lo = int(cum[first_day - 1]) if first_day > 0 else 0
        hi = int(cum[end_day - 1]) if end_day > 0 else 0
        parts = [
            self._block(
                self.state, (1 << 24) + a, a, min(hi, a + C.BLOCK_ROWS)
            )  # streams apart from generate's
            for a in range(lo, hi, C.BLOCK_ROWS)
        ]
        if not parts:
            parts = [self._block(self.state, 1 << 24, lo, lo)]
        return _concat(parts)


def _columns(part: pd.DataFrame | dict[str, Any]) -> dict[str, Any]:
    """Return a block's columns as arrays: a block's own, or a frame's (a chunk's carried-over rows)."""
    if isinstance(part, dict):
        return {name: (col.array if isinstance(col, pd.Series) else col) for name, col in part.items()}
    return {
        name: (part[name].to_numpy() if isinstance(part[name].dtype, np.dtype) else part[name].array)
        for name in part.columns
    }


def _concat(parts: list[Any]) -> pd.DataFrame:
    """Join blocks of one data set (column dicts or frames) into one frame, built once.

    pd.concat re-validates every categorical's categories pairwise (slow for 100k importer ids); blocks of
    one data set share them by construction, so their codes can be joined directly. Blocks arrive as columns
    (``block_columns``) and the data set is framed once, without consolidating its numeric columns.
    """
    if len(parts) == 1 and isinstance(parts[0], pd.DataFrame):
        return parts[0]
    blocks = [_columns(p) for p in parts]
    first = blocks[0]
    columns: dict[str, Any] = {}
    for name, col in first.items():
        if len(blocks) == 1:
            columns[name] = col
        elif isinstance(col, pd.Categorical):
            cats = col.categories
            for b in blocks[1:]:
                # Blocks of one world build their categories from the same lists; a full comparison of
                # 100k importer ids per block costs more than the rest of the join, so check the shape.
                other = b[name].categories
                if len(other) != len(cats) or (len(cats) and (other[0] != cats[0] or other[-1] != cats[-1])):
                    raise AssertionError(f"blocks disagree on the categories of {name!r}")
            codes = np.concatenate([b[name].codes for b in blocks])
            columns[name] = pd.Categorical.from_codes(codes, dtype=col.dtype)
        elif isinstance(col, np.ndarray):  # plain numpy columns: numbers, flags, timestamps
            columns[name] = np.concatenate([b[name] for b in blocks])
        else:
            columns[name] = pd.concat([pd.Series(b[name]) for b in blocks], ignore_index=True).array
    # The arrays are this frame's own (just joined, or a block's that is dropped): no copy, and no
    # consolidation of the numeric columns into 2-D blocks (0.6 s per million rows, for nothing here).
    return pd.DataFrame(columns, copy=False)


def _blocks_in_order(world: Any, block: Callable[..., dict[str, Any]], n: int) -> Iterator[dict[str, Any]]:
    """Generate blocks on a small thread pool (numpy releases the GIL), yielding them in order.

    At most ``workers + 1`` blocks are held at once, so memory stays bounded whatever n is. Each block has
    its own random stream, so the result does not depend on the number of threads.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    ranges = list(C.block_ranges(n))
    workers = min(C.generator_threads(), len(ranges))
    if workers <= 1:
        for b, lo, hi in ranges:
            yield block(world, b, lo, hi)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="riskscore-gen") as pool:
        queue: deque[Any] = deque()
        it = iter(ranges)
        for b, lo, hi in it:
            queue.append(pool.submit(block, world, b, lo, hi))
            if len(queue) > workers:
                break
        while queue:
            frame = queue.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                queue.append(pool.submit(block, world, *nxt))
            yield frame


def generate(
    kind: Kind,
    n: int,
    *,
    seed: int = 0,
    scenario: ScenarioLike = "default",
    start: str | dt.date | None = None,
    days: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate a synthetic data set of ``n`` records in one frame (see :func:`iter_records`).

    Parameters
    ----------
    kind, n, seed, scenario, start, days, progress
        As in :func:`iter_records`.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> generate("passengers", 500, seed=4, progress=False).shape[0]
    500
    """
    # one chunk of n rows: the blocks' columns are joined into a frame once
    parts = list(
        iter_records(
            kind, n, seed=seed, scenario=scenario, start=start, days=days, chunk_rows=n, progress=progress
        )
    )
    return _concat(parts)


def generate_shipments(
    n: int,
    *,
    seed: int = 0,
    scenario: ScenarioLike = "default",
    start: str | dt.date | None = None,
    days: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate ``n`` synthetic import declarations: declared fields, then truth, oracle and legacy outcome.

    Parameters
    ----------
    n
        Number of declarations.
    seed
        Random seed; the same seed gives an identical frame.
    scenario
        Scenario name (``"default"``), a path to a scenario TOML, or a mapping of overrides.
    start, days
        The simulated period; default: the scenario's (2025-01-01, 365 days).
    progress
        Show a progress bar of the records generated: True, False, or None for "only when standard error
        is a terminal".

    Returns
    -------
    pandas.DataFrame
        Columns as described by the built-in spec ``riskscore/specs/shipment.toml``.

    Examples
    --------
    >>> frame = generate_shipments(1000, seed=7)
    >>> len(frame), bool(frame["declaration_id"].is_unique)
    (1000, True)
    >>> bool((frame["net_weight_kg"] <= frame["gross_weight_kg"]).all())
    True
    """
    return generate("shipments", n, seed=seed, scenario=scenario, start=start, days=days, progress=progress)


def generate_passengers(
    n: int,
    *,
    seed: int = 0,
    scenario: ScenarioLike = "default",
    start: str | dt.date | None = None,
    days: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate ``n`` synthetic passenger and land-border crossings with planted P1-P4 violations.

    Parameters are those of :func:`generate_shipments`; columns follow ``riskscore/specs/passenger.toml``.

    Examples
    --------
    >>> frame = generate_passengers(1000, seed=7)
    >>> len(frame), bool(frame["trip_id"].is_unique)
    (1000, True)
    """
    return generate("passengers", n, seed=seed, scenario=scenario, start=start, days=days, progress=progress)


def write_records(
    kind: Kind,
    n: int,
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    scenario: ScenarioLike = "default",
    start: str | dt.date | None = None,
    days: int | None = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    layout: str = "riskscore",
) -> Path:
    """Generate ``n`` records straight to a parquet or CSV file, chunk by chunk, atomically.

    The file is written to a temporary name beside ``out`` and renamed into place only when complete,
    so an interrupted run never leaves a half-written file (an existing ``out`` stays untouched); the
    temporary of a run that was killed outright (SIGKILL) is removed by the next write to ``out``.
    Memory stays bounded by one chunk whatever ``n`` is.

    Parameters
    ----------
    kind, n, seed, scenario, start, days, chunk_rows
        As in :func:`iter_records`.
    out
        Destination; the format follows the extension: ``.parquet`` or ``.csv``.
    progress
        Show a progress bar; default: only when standard error is a terminal.
    layout
        ``"riskscore"`` (the generated columns, truth included) or, for shipments, ``"foreign"``: the
        own-data tutorial's table (:func:`riskscore.synthetic.foreign.foreign_layout`: another
        administration's column names, day-first dates, a 0/1/2 finding, no truth).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputError
        The extension is not supported, ``out`` is a folder, or its folder is missing or not writable.
    """
    _check_args(kind, n, seed, days, chunk_rows)
    path = check_output(out, (".parquet", ".csv"))
    suffix = path.suffix.lower()
    load_scenario(scenario)  # fail on a bad scenario before creating anything
    wants_progress(progress)
    if layout not in ("riskscore", "foreign") or (layout == "foreign" and kind != "shipments"):
        raise ParameterError(
            f"layout must be 'riskscore', or 'foreign' for shipments; got {layout!r} for {kind!r}"
        )

    tmp = temp_beside(path)  # also removes temporaries left by a killed earlier run
    try:
        # one bar, for the rows written (the generator's own would count the same rows a second time)
        chunks = iter_records(
            kind,
            n,
            seed=seed,
            scenario=scenario,
            start=start,
            days=days,
            chunk_rows=chunk_rows,
            progress=False,
        )
        if layout == "foreign":
            from riskscore.synthetic.foreign import foreign_layout

            chunks = (foreign_layout(c, seed=seed * 1_000_003 + i) for i, c in enumerate(chunks))
        with progress_bar(progress, total=n, desc=f"generate {kind}") as bar:
            if suffix == ".parquet":
                with ParquetChunks(tmp) as parquet:
                    for chunk in chunks:
                        parquet.write(chunk)
                        bar.update(len(chunk))
            else:
                # Machine data that must round-trip (riskscore.read_records reads it back exactly) and holds
                # no user text: written plainly, without the formula neutralising of _io.safe_csv, which
                # prefixes text starting with '-' or '+' with a quote and so would change the values.
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    for i, chunk in enumerate(chunks):
                        chunk.to_csv(fh, header=(i == 0), index=False, date_format="%Y-%m-%dT%H:%M:%S")
                        bar.update(len(chunk))
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
