"""riskscore on a Dask cluster: generate, fit features, train and score data sets one machine cannot hold.

Where a national year of declarations outgrows one machine, riskscore runs on Dask, an engine users already
operate, with the same answers as on one machine:

* :func:`client` connects to a scheduler by its address, or starts a two-worker ``LocalCluster``;
* :func:`generate` writes a synthetic data set as a folder of parquet files, one per range of records,
  generated in parallel; read in order, the files hold exactly what
  :func:`riskscore.synthetic.generate` returns for the same arguments;
* :func:`score` scores a dask DataFrame partition by partition with the same checks as
  :meth:`RiskModel.predict <riskscore.model.RiskModel.predict>`; the result equals ``predict`` on the
  whole frame bit for bit (a record's score never depends on the other records of its batch);
* :func:`fit_features` fits a :class:`~riskscore.features.FeatureBuilder` from the partitions: each
  partition's share of the fitted state (history tables, reference sums and counts, category counts...)
  is reduced to exactly the state ``FeatureBuilder.fit_transform`` fits on the whole frame;
* :func:`train` trains a model with ``lightgbm.dask`` on the inspected records, building each partition's
  features on the worker that holds it.

The model is shipped to the workers as its file's bytes (verified when each worker loads it, once per worker
process), never as pickled LightGBM handles. Dask is an optional dependency:
``pip install 'riskscore[scale]'``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskscore._optional import require
from riskscore.exceptions import OutputError, ParameterError, SchemaError

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd
    from distributed import Client

    from riskscore.features.builder import FeatureBuilder, PartialFit
    from riskscore.model import RiskModel
    from riskscore.spec import RecordSpec
    from riskscore.synthetic.generate import Kind, ScenarioLike

__all__ = ["client", "fit_features", "generate", "score", "score_meta"]

#: Rows per parquet file written by :func:`generate` (16 generator blocks of 65,536 records).
PARTITION_ROWS = 1 << 20


def _dask(feature: str) -> Any:
    """Import dask.distributed, or raise an error naming the extra that installs it."""
    require("dask.dataframe", extra="scale", feature=feature)
    return require("distributed", extra="scale", feature=feature)


def _client_or_default(client: Client | None, feature: str) -> Client:
    """Return ``client``, else the current Dask client; a clear error when there is none."""
    distributed = _dask(feature)
    if client is not None:
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ParameterError(
            f"{feature} needs a Dask client: pass client=riskscore.distributed.client() (a local cluster) or "
            "client=riskscore.distributed.client('tcp://scheduler:8786')"
        ) from None


def client(
    scheduler: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    processes: bool = True,
) -> Client:
    """Return a Dask client for a scheduler's address, or for a new ``LocalCluster`` when none is given.

    Parameters
    ----------
    scheduler
        The scheduler's address (``"tcp://10.0.0.5:8786"``); None starts a local cluster that closes with
        the client.
    n_workers, threads_per_worker, processes
        The local cluster's workers, threads per worker, and whether workers are processes (True) or
        threads of this process. Ignored with a ``scheduler``.

    Returns
    -------
    distributed.Client
        Use it as a context manager, or call ``close()`` when done.

    Raises
    ------
    ParameterError
        A worker or thread count below 1.
    MissingDependencyError
        Dask is not installed (``pip install 'riskscore[scale]'``).

    Examples
    --------
    >>> from riskscore.distributed import client
    >>> with client(n_workers=1, processes=False) as c:  # doctest: +SKIP
    ...     len(c.scheduler_info()["workers"])
    1
    """
    distributed = _dask("riskscore.distributed.client")
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ParameterError(
                f"scheduler must be an address such as 'tcp://10.0.0.5:8786', or None; got {scheduler!r}"
            )
        return distributed.Client(scheduler)
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(f"{name} must be a whole number >= 1; got {value!r}")
    return distributed.Client(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        dashboard_address=None,
    )


# --------------------------------------------------------------------------------------------- generate


def _new_folder(path: str | os.PathLike[str]) -> Path:
    """Check an output folder before any work: a new name (or an empty folder) in a writable folder."""
    from riskscore._io import check_output_folder

    p = Path(path)
    if p.is_dir() and any(p.iterdir()):
        raise OutputError(
            f"output folder {str(p)!r} is not empty; choose a new folder (the data set is written as a whole "
            "folder of parquet files) or remove the old one"
        )
    return check_output_folder(p, create=True)


def generate(
    kind: Kind,
    n: int,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    scenario: ScenarioLike = "default",
    start: str | dt.date | None = None,
    days: int | None = None,
    partition_rows: int = PARTITION_ROWS,
    client: Client | None = None,
) -> Path:
    """Generate ``n`` synthetic records into a folder of parquet files, the files written in parallel.

    The population and calendar (the "world") are drawn once, here, and sent to every worker; each worker
    then draws the records of its files from their own random streams, exactly as
    :func:`riskscore.synthetic.iter_records` does. Read in order (``part-00000.parquet``,
    ``part-00001.parquet``...), the files hold exactly :func:`riskscore.synthetic.generate` with the same
    arguments, in time order. Each file is written under a temporary name and renamed when complete, and
    the folder is written under a temporary name beside ``out_dir`` and renamed into place only when every
    file is there: an interrupted run leaves nothing at ``out_dir``.

    Parameters
    ----------
    kind, n, seed, scenario, start, days
        As in :func:`riskscore.synthetic.iter_records`.
    out_dir
        The folder to create (or an empty folder). The workers write into it: on a cluster of several
        machines it must be on storage they share.
    partition_rows
        Records per file (the last file may hold fewer).
    client
        The Dask client (default: the current one).

    Returns
    -------
    pathlib.Path
        The folder; ``dask.dataframe.read_parquet(out_dir)`` reads it with one partition per file.

    Raises
    ------
    ParameterError
        A bad ``kind``, ``n``, ``seed``, ``days`` or ``partition_rows``.
    OutputError
        ``out_dir`` is a file, a folder that is not empty, or its parent is missing or not writable.
    """
    from riskscore.synthetic.generate import _as_start, _check_args, _kind
    from riskscore.synthetic.scenario import load_scenario

    _check_args(kind, n, seed, days, partition_rows)
    c = _client_or_default(client, "riskscore.distributed.generate")
    folder = _new_folder(out_dir)
    build, _ = _kind(kind)
    world = build(load_scenario(scenario), n, seed, _as_start(start), days)
    parent = folder.parent if str(folder.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", suffix=".part", dir=parent))
    try:
        shipped = c.scatter(world, broadcast=True, hash=False)
        ranges = [(i, lo, min(n, lo + partition_rows)) for i, lo in enumerate(range(0, n, partition_rows))]
        futures = [
            c.submit(_write_part, kind, shipped, n, lo, hi, str(tmp / f"part-{i:05d}.parquet"), pure=False)
            for i, lo, hi in ranges
        ]
        written = c.gather(futures)
        if sum(written) != n:  # pragma: no cover - every range is written or its task raised
            raise RuntimeError(f"generated {sum(written)} records of {n}")
        if folder.is_dir():  # the empty folder checked above: replaced by the complete one
            folder.rmdir()
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a data set is as readable as any folder
        tmp.replace(folder)
    except BaseException:
        for f in tmp.glob("*"):
            f.unlink(missing_ok=True)
        tmp.rmdir()
        raise
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_part(kind: str, world: Any, n: int, lo: int, hi: int, path: str) -> int:
    """Draw records ``lo``..``hi - 1`` of the data set (block by block) and write them as one parquet file."""
    from riskscore._io import ParquetChunks, publish
    from riskscore.synthetic import _common as C
    from riskscore.synthetic.generate import _concat, _kind

    _, block = _kind(kind)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.part")
    rows = 0
    with ParquetChunks(tmp) as parquet:
        for b, blo, bhi in C.block_ranges(n):
            if bhi <= lo or blo >= hi:
                continue
            frame = _concat([block(world, b, blo, bhi)])
            if blo < lo or bhi > hi:  # a block the range cuts: its records on this side of the cut
                frame = frame.iloc[max(lo, blo) - blo : min(hi, bhi) - blo].reset_index(drop=True)
            parquet.write(frame)
            rows += len(frame)
    publish(tmp, target)
    return rows


# ------------------------------------------------------------------------------------------------ score

_MODELS: dict[str, RiskModel] = {}  # per worker process: model file SHA-256 -> the model, loaded once
_MODELS_LOCK = threading.Lock()


def _model_bytes(model: RiskModel | str | os.PathLike[str]) -> bytes:
    """Return a model file's bytes: a path or name is loaded first (a bad file fails here), then saved."""
    from riskscore.model import RiskModel, load

    loaded = model if isinstance(model, RiskModel) else load(model)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.rsk"
        loaded.save(path)
        return path.read_bytes()


def _worker_model(data: bytes) -> RiskModel:
    """Load a model from its file's bytes once per process (hash and schema checks as in ``load``)."""
    from riskscore.model import RiskModel

    digest = hashlib.sha256(data).hexdigest()
    with _MODELS_LOCK:
        model = _MODELS.get(digest)
        if model is None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.rsk"
                path.write_bytes(data)
                model = RiskModel.from_file(path, sha256=digest)
            _MODELS.clear()  # one model at a time per worker: a long-lived worker does not collect them
            _MODELS[digest] = model
    return model


def score_meta(*, explain: bool = False) -> pd.DataFrame:
    """Return the empty frame of :meth:`RiskModel.predict <riskscore.model.RiskModel.predict>`'s columns and dtypes.

    The ``meta`` of :func:`score`: the columns of :data:`riskscore.model.OUTPUT_COLUMNS` (then
    ``reason_codes`` and ``reasons`` with ``explain=True``) with the dtypes ``predict`` gives them.
    """
    from riskscore.policy import CHANNELS

    text = pd.Series([], dtype="str")
    number = pd.Series([], dtype="float64")
    columns: dict[str, Any] = {
        "record_id": text,
        "channel": pd.Series(pd.Categorical([], categories=list(CHANNELS))),
        "risk_score": number,
        "p_green": number,
        "p_yellow": number,
        "p_red": number,
        "selection_reason": text,
        "model_version": text,
    }
    if explain:
        columns.update(reason_codes=text, reasons=text)
    return pd.DataFrame(columns)


def score(
    model: RiskModel | str | os.PathLike[str],
    ddf: dd.DataFrame,
    *,
    explain: bool = False,
    top_k: int = 3,
    num_threads: int = 1,
) -> dd.DataFrame:
    """Score a dask DataFrame of records, partition by partition: ``predict`` on each, on the workers.

    Each partition goes through :meth:`RiskModel.predict <riskscore.model.RiskModel.predict>` itself, so
    the same schema checks apply to every partition and the computed result equals ``model.predict`` on the
    concatenated frame bit for bit (scoring a record never depends on the other records of its batch). The
    result keeps each partition's index, so it aligns with ``ddf``.

    Parameters
    ----------
    model
        A :class:`~riskscore.model.RiskModel`, a model file path or a shipped model's name. It is sent to
        the workers as its file's bytes (a model object is saved first) and loaded once per worker process,
        with the file's hash checks.
    ddf
        The records: a dask DataFrame with the spec's declared columns (other columns are ignored).
    explain
        Add ``reason_codes`` and ``reasons``, as ``predict(..., explain=True)``.
    top_k
        Number of reasons with ``explain=True``.
    num_threads
        LightGBM threads per partition (each Dask worker thread scores one partition at a time).

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; its ``meta`` is :func:`score_meta`. Computing it raises the ``SchemaError`` of the first bad
        partition, naming the partition.
    """
    dask = require("dask", extra="scale", feature="riskscore.distributed.score")
    require("dask.dataframe", extra="scale", feature="riskscore.distributed.score")
    if explain:
        from riskscore.explain import check_top_k

        top_k = check_top_k(top_k)
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ParameterError(f"num_threads must be a whole number >= 1; got {num_threads!r}")
    data = _model_bytes(model)
    shipped = dask.delayed(data, pure=True)
    return ddf.map_partitions(
        _score_partition,
        shipped,
        explain,
        top_k,
        num_threads,
        meta=score_meta(explain=explain),
        align_dataframes=False,
    )


def _score_partition(
    part: pd.DataFrame,
    data: bytes,
    explain: bool,
    top_k: int,
    num_threads: int,
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    model = _worker_model(data)
    try:
        out = model.predict(part, explain=explain, top_k=top_k, num_threads=num_threads)
    except SchemaError as exc:
        where = f"partition {partition_info['number']}" if partition_info else "a partition"
        raise SchemaError(f"{where}: {exc}") from None
    out.index = part.index
    return out


# ----------------------------------------------------------------------------------- the fitted features


@dataclass(frozen=True)
class _Records:
    """How a worker reads one partition: validated as training validates, labelled, cut to a window.

    ``label`` None: records without outcomes (nothing inspected). ``window``: first and end day (days since
    1970-01-01) of the records kept; the kept records are put in time order, as ``riskscore.train`` does.
    """

    spec: RecordSpec
    label: str | None
    window: tuple[int | None, int | None] = (None, None)

    def __call__(self, part: pd.DataFrame, number: int) -> tuple[pd.DataFrame, Any, Any, Any, Any]:
        """Return (records, inspected, hits, channel labels, weights) of the partition's kept rows."""
        from riskscore.features._common import days
        from riskscore.training import _labels, _validated_with_labels
        from riskscore.validation import validate_frame

        try:
            if self.label is None:
                frame = validate_frame(part, self.spec, columns="declared", extra="keep")
            else:
                frame = _validated_with_labels(part, self.spec, self.label)
        except SchemaError as exc:
            raise SchemaError(f"partition {number}: {exc}") from None
        day = days(frame[self.spec.time_column])
        first, end = self.window
        if first is not None or end is not None:
            keep = (day >= (first if first is not None else day.min(initial=0))) & (
                day < (end if end is not None else day.max(initial=0) + 1)
            )
            order = np.argsort(day[keep], kind="stable")  # time order within the partition (time_split's)
            frame = frame.iloc[np.flatnonzero(keep)[order]]
        frame = frame.reset_index(drop=True)
        n = len(frame)
        if self.label is None:
            return frame, np.zeros(n, bool), np.zeros(n, bool), np.full(n, "green"), np.ones(n)
        has_l, y, w = _labels(frame, self.label, self.spec)
        return frame, has_l, has_l & (y != "green"), y, w


def _partial(
    part: pd.DataFrame,
    builder: FeatureBuilder,
    records: _Records,
    number: int,
    features: list[str],
    shards: int,
) -> PartialFit:
    frame, inspected, hits, _, _ = records(part, number)
    return builder.partial_fit(frame, inspected=inspected, hits=hits, features=features, shards=shards)


def _counts(partial: PartialFit) -> PartialFit:
    return partial.counts()


def _shard(partial: PartialFit, shard: int) -> dict[str, Any]:
    return partial.pieces.get(shard, {})


def _combine(builder: FeatureBuilder, *pieces: dict[str, Any]) -> dict[str, Any]:
    return builder.combine_shard(pieces)


def _sequence_length(partial: PartialFit, name: str) -> int:
    sequence = partial.sequences.get(name)
    return -1 if sequence is None else len(sequence)


def _sequence_pieces(partial: PartialFit, name: str, offset: int, total: int) -> Any:
    from riskscore import _ordered_sum

    _ordered_sum.check_numpy()  # this worker's numpy adds as the client's reproduces
    return _ordered_sum.pieces(partial.sequences[name], offset, total)


def _shards_default(c: Client) -> int:
    return max(1, 2 * len(c.scheduler_info().get("workers", {})))


def _fit_state(
    c: Client, builder: FeatureBuilder, parts: Sequence[Any], records: _Records, shards: int
) -> FeatureBuilder:
    """Fit ``builder`` from the partitions, pass by pass (:meth:`FeatureBuilder.fit_passes`), not compacted.

    Each partition's share is computed on a worker and stays there; its counts come to this process, its
    pieces go shard by shard to one worker each, where they are combined; this process assembles the
    combined shards (the state itself) and the ordered sums from a few values per partition.
    """
    import dask

    from riskscore import _ordered_sum

    _ordered_sum.check_numpy()
    passes = builder.fit_passes() or [[]]
    for k, features in enumerate(passes):
        shipped = c.scatter(builder, broadcast=True, hash=False)
        partials = c.compute(
            [dask.delayed(_partial)(p, shipped, records, i, features, shards) for i, p in enumerate(parts)]
        )
        if k == 0:
            builder.start_fit(c.gather([c.submit(_counts, f) for f in partials]))
            shipped = c.scatter(builder, broadcast=True, hash=False)
        combined = c.gather(
            [
                c.submit(_combine, shipped, *[c.submit(_shard, f, s, pure=False) for f in partials])
                for s in range(shards)
            ]
        )
        sums: dict[str, tuple[float, int]] = {}
        for name in features:
            lengths = c.gather([c.submit(_sequence_length, f, name) for f in partials])
            if all(n < 0 for n in lengths):
                continue
            total, offsets = 0, []
            for n in lengths:
                offsets.append(total)
                total += max(n, 0)
            pieces = c.gather(
                [
                    c.submit(_sequence_pieces, f, name, off, total)
                    for f, off, n in zip(partials, offsets, lengths, strict=True)
                    if n > 0
                ]
            )
            sums[name] = (_ordered_sum.combine(total, pieces), total)
        builder.assemble_states(combined, features, sums)
        del partials, shipped
    builder.finish_fit()
    return builder


def fit_features(
    ddf: dd.DataFrame,
    kind: str | RecordSpec = "shipment",
    *,
    label: str | None = "observed",
    include_protected: tuple[str, ...] = (),
    client: Client | None = None,
    shards: int | None = None,
    **params: Any,
) -> FeatureBuilder:
    """Fit a :class:`~riskscore.features.FeatureBuilder` on a dask DataFrame, partition by partition.

    Each partition is validated as ``riskscore.train`` validates its records, and its share of the fitted
    state is computed on the worker that holds it: category counts, inspections and hits, history tables per
    key and day, reference sums and counts per group, (group, code, value) counts for ``group_max_gap``. The
    shares are combined by key on the workers and assembled here into exactly the state
    ``FeatureBuilder.fit_transform`` fits on the partitions joined in order (whole-number counts add in any
    order; a reference's sums add each key's values in record order, and its overall mean reproduces
    numpy's pairwise summation over every record, so they are equal bit for bit). History features stay
    time-safe: a record reads the history of strictly earlier days, whichever partition they are in.

    Parameters
    ----------
    ddf
        Records of the spec, partitions in any order (the state is that of the partitions joined in order).
    kind
        The record spec or the name of a built-in one.
    label
        ``"observed"`` (inspection outcomes through the spec's ``[labels]``: the history hit rates),
        ``"truth"``, or None (no outcomes: every hit rate is the prior).
    include_protected, **params
        As for :class:`~riskscore.features.FeatureBuilder` (``min_category_count``, ``smoothing``...).
    client
        The Dask client (default: the current one).
    shards
        Number of key ranges the pieces are combined in (default: twice the number of workers).

    Returns
    -------
    FeatureBuilder
        Fitted, its history compacted as ``fit_transform`` leaves it.

    Raises
    ------
    SchemaError
        A partition does not match the spec (the message names the partition).
    SpecError
        A feature of the spec has no exact reduction from partitions.
    """
    from riskscore.features.builder import FeatureBuilder
    from riskscore.spec import load_spec

    c = _client_or_default(client, "riskscore.distributed.fit_features")
    if label not in ("observed", "truth", None):
        raise ParameterError(f"label must be 'observed', 'truth' or None; got {label!r}")
    spec = load_spec(kind)
    builder = FeatureBuilder(spec, include_protected=tuple(include_protected), **params)
    n_shards = _shards_default(c) if shards is None else shards
    if isinstance(n_shards, bool) or not isinstance(n_shards, int) or n_shards < 1:
        raise ParameterError(f"shards must be a whole number >= 1; got {shards!r}")
    _fit_state(c, builder, ddf.to_delayed(), _Records(spec, label), n_shards)
    builder.compact_history()
    return builder
