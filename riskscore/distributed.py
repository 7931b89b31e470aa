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
  features on the worker that holds it;
* :func:`review` writes the officers' review page of a data set scored and explained on the workers.

The model is shipped to the workers as its file's bytes (verified when each worker loads it, once per worker
process), never as pickled LightGBM handles. Dask is an optional dependency:
``pip install 'riskscore[scale]'``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskscore._optional import require
from riskscore.exceptions import OutputError, ParameterError, SchemaError

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd
    from distributed import Client, Future

    from riskscore.features.builder import FeatureBuilder, PartialFit
    from riskscore.model import ChannelModel, RiskModel
    from riskscore.policy import ChannelPolicy
    from riskscore.report.builder import ReviewResult
    from riskscore.spec import RecordSpec
    from riskscore.synthetic.generate import Kind, ScenarioLike
    from riskscore.training import TrainResult

__all__ = [
    "client",
    "fit_features",
    "generate",
    "read",
    "review",
    "score",
    "score_files",
    "score_meta",
    "train",
]

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
    c = distributed.Client(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        dashboard_address=":0",  # any free port: never a clash with another cluster on this machine
    )
    if processes:
        c.run(_stdout_to_stderr)
    return c


def _stdout_to_stderr() -> None:
    """In a local worker process: write what goes to standard output to standard error instead.

    The workers of a local cluster share this terminal's standard output, and LightGBM's network set-up
    prints "[LightGBM] [Info] ..." there from worker threads (its log callback is per thread, so no logger
    catches it): on standard output it would break ``--json``, whose stdout is one JSON object.
    """
    import sys

    sys.stdout.flush()
    os.dup2(2, 1)


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
    with _published(folder) as tmp:
        shipped = c.scatter(world, broadcast=True, hash=False)
        ranges = [(i, lo, min(n, lo + partition_rows)) for i, lo in enumerate(range(0, n, partition_rows))]
        futures = [
            c.submit(_write_part, kind, shipped, n, lo, hi, str(tmp / f"part-{i:05d}.parquet"), pure=False)
            for i, lo, hi in ranges
        ]
        written = c.gather(futures)
        if sum(written) != n:  # pragma: no cover - every range is written or its task raised
            raise RuntimeError(f"generated {sum(written)} records of {n}")
    return folder


@contextlib.contextmanager
def _published(folder: Path) -> Iterator[Path]:
    """Give a temporary folder beside ``folder`` to fill; rename it into place only if the block succeeds.

    ``folder`` is new or empty (:func:`_new_folder`); on failure the temporary folder and its files go.
    """
    parent = folder.parent if str(folder.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", suffix=".part", dir=parent))
    try:
        yield tmp
        if folder.is_dir():  # the empty folder checked before: replaced by the complete one
            folder.rmdir()
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a data set is as readable as any folder
        tmp.replace(folder)
    except BaseException:
        for f in tmp.glob("*"):
            f.unlink(missing_ok=True)
        tmp.rmdir()
        raise


def _quiet_lightgbm() -> None:
    """Send LightGBM's messages to the ``lightgbm`` logger instead of standard output.

    lightgbm.dask prints ("Finding random open ports for workers") and LightGBM's network set-up logs
    "[LightGBM] [Info] ..." from every worker before any verbosity applies; on standard output they would
    break ``--json`` (whose stdout is one JSON object) and flood a notebook.
    """
    import lightgbm as lgb

    lgb.register_logger(logging.getLogger("lightgbm"))


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

log = logging.getLogger("riskscore")

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


def read(data: str | os.PathLike[str], *, columns: Sequence[str] | None = None) -> dd.DataFrame:
    """Read a parquet file, or a folder of parquet files (as :func:`generate` writes), as a dask DataFrame.

    One partition per file (a folder's files in name order, which is time order for :func:`generate`'s);
    ``columns`` keeps those the data has. CSV is not read here: convert it to parquet first (a CSV cannot
    be split by rows without reading it).
    """
    require("dask.dataframe", extra="scale", feature="riskscore.distributed.read")
    import dask.dataframe as dd

    path = Path(data)
    if not path.exists():
        raise ParameterError(f"data {str(path)!r} does not exist; give a parquet file or a folder of them")
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files or any(f.suffix.lower() != ".parquet" for f in files):
        raise ParameterError(
            f"data {str(path)!r} must be a .parquet file or a folder of .parquet files on a cluster; "
            "convert a CSV with riskscore.read_records(...).to_parquet(...) first"
        )
    keep = None
    if columns is not None:
        import pyarrow.parquet as pq

        present = set(pq.read_schema(files[0]).names)
        keep = [c for c in columns if c in present]
    return dd.read_parquet([str(f) for f in files], columns=keep)


def score_files(
    model: RiskModel | str | os.PathLike[str],
    data: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    explain: bool = False,
    top_k: int = 3,
) -> tuple[Path, dict[str, int]]:
    """Score a parquet data set on the cluster into a folder of parquet files; return it and channel counts.

    :func:`read` then :func:`score`, each partition written by the worker that scored it into a folder
    under a temporary name beside ``out_dir``, renamed into place when every file is there (an interrupted
    run leaves nothing at ``out_dir``).
    """
    from riskscore.model import RiskModel, load

    c = _client_or_default(client, "riskscore.distributed.score_files")
    fitted = model if isinstance(model, RiskModel) else load(model)
    folder = _new_folder(out_dir)
    scored = score(fitted, read(data, columns=fitted.spec.declared_columns), explain=explain, top_k=top_k)
    with _published(folder) as tmp:
        c.compute(scored.to_parquet(str(tmp), write_index=False, compute=False)).result()
        written = read(tmp, columns=["channel"])  # counted from the files: the records are scored once
        counts = c.compute(written["channel"].value_counts()).result()
    return folder, {str(k): int(v) for k, v in counts.items()}


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


# ------------------------------------------------------------------------------------------------ review


def review(
    model: RiskModel | str | os.PathLike[str],
    ddf: dd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    max_cases: int | None = None,
    title: str | None = None,
    seed: int = 0,
) -> ReviewResult:
    """Write the review page (``index.html``, ``flagged.csv``) of a dask DataFrame of records.

    :func:`riskscore.report.build_review` across a cluster. Each partition is scored and its flagged
    records explained on the worker that holds it; this process receives the counts, the flagged records'
    decisions and reasons (the rows of ``flagged.csv``), a uniform random sample of the batch for the plots
    (each partition offers its records with the smallest random keys; the smallest overall are kept), and,
    in a second pass, the declared fields and explanations of the cases the page shows. The cases, their
    order and ``flagged.csv`` are those :func:`~riskscore.report.build_review` gives on the whole frame; the
    plots' sample is another draw.

    Parameters
    ----------
    model
        A :class:`~riskscore.model.RiskModel`, a model file path or a shipped model's name.
    ddf
        The records (:func:`read`), partitions in record order.
    out_dir
        Folder to write into (created if its parent exists).
    client
        The Dask client (default: the current one).
    max_cases, title
        As in :func:`~riskscore.report.build_review` (default ``max_cases``: its default).
    seed
        Seed of the plots' sample.

    Returns
    -------
    riskscore.report.ReviewResult
    """
    from riskscore.model import RiskModel, load
    from riskscore.report.builder import (
        MAX_CASES,
        SAMPLE,
        ReviewBatch,
        check_max_cases,
        shown_rows,
        write_review,
    )

    require("jinja2", extra="report", feature="the review report")
    cases = check_max_cases(MAX_CASES if max_cases is None else max_cases)
    c = _client_or_default(client, "riskscore.distributed.review")
    from riskscore._io import check_output_folder

    out = check_output_folder(out_dir, create=True)  # before any work
    fitted = model if isinstance(model, RiskModel) else load(model)
    data = _model_bytes(fitted)
    import dask

    parts = ddf.to_delayed()
    shipped = dask.delayed(data, pure=True)
    pieces = c.gather(
        c.compute([dask.delayed(_review_partition)(p, shipped, i, seed, SAMPLE) for i, p in enumerate(parts)])
    )
    records = sum(p["records"] for p in pieces)
    channels: dict[str, int] = {}
    selection: dict[str, int] = {}
    unseen: dict[str, float] = {}
    for p in pieces:
        for total, counts in ((channels, p["channels"]), (selection, p["selection"])):
            for k, v in counts.items():
                total[k] = total.get(k, 0) + int(v)
        for k, v in p["unseen"].items():  # shares of the partition: weighted by its records
            unseen[k] = unseen.get(k, 0.0) + float(v) * p["records"]
    unseen = {k: v / records for k, v in unseen.items()} if records else {}
    selection = dict(sorted(selection.items(), key=lambda kv: -kv[1]))
    flagged = pd.concat([p["flagged"] for p in pieces], ignore_index=True)
    # decreasing risk, ties in record order (partition, then position), as on one machine
    order = np.lexsort(
        (flagged["_position"].to_numpy(), flagged["_partition"].to_numpy(), -flagged["risk_score"].to_numpy())
    )
    flagged = flagged.iloc[order].reset_index(drop=True)
    shown = flagged.iloc[shown_rows(flagged["channel"].astype(str).to_numpy(), cases)]
    wanted: dict[int, list[int]] = {}
    for part_no, pos in zip(shown["_partition"].tolist(), shown["_position"].tolist(), strict=True):
        wanted.setdefault(int(part_no), []).append(int(pos))
    fetched = dict(
        zip(
            wanted,
            c.gather(
                c.compute(
                    [
                        dask.delayed(_review_rows)(parts[i], shipped, i, positions)
                        for i, positions in wanted.items()
                    ]
                )
            ),
            strict=True,
        )
    )
    from riskscore.explain import Explanation

    # each partition's rows come back in the page's order; the k-th shown case of partition i is row
    # offset[i] + k of the joined rows
    offset, start = {}, 0
    for i in wanted:
        offset[i] = start
        start += len(wanted[i])
    at = (shown["_partition"].map(offset) + shown.groupby("_partition").cumcount()).to_numpy(dtype=np.intp)
    joined = pd.concat([fetched[i][0] for i in wanted], ignore_index=True) if wanted else None
    joined_ex = Explanation.concat([fetched[i][1] for i in wanted]) if wanted else None
    sample = pd.concat([p["sample"] for p in pieces], ignore_index=True)
    sample_pred = pd.concat([p["sample_predictions"] for p in pieces], ignore_index=True)
    keep = np.sort(np.argsort(sample["_key"].to_numpy(), kind="stable")[:SAMPLE])
    sample, sample_pred = sample.iloc[keep].drop(columns="_key"), sample_pred.iloc[keep]
    batch = ReviewBatch(
        records=records,
        channels=channels,
        selection=selection,
        unseen=unseen,
        flagged=flagged.drop(columns=["_partition", "_position"]),
        shown=joined.iloc[at].reset_index(drop=True) if joined is not None else sample.iloc[0:0],
        shown_explanation=joined_ex.take(at) if joined_ex is not None else None,
        sample=sample.reset_index(drop=True),
        sample_predictions=sample_pred.reset_index(drop=True),
        sample_explanation=fitted.explain(sample) if len(sample) else None,
    )
    return write_review(fitted, batch, out, max_cases=cases, title=title)


def _review_partition(part: pd.DataFrame, data: bytes, number: int, seed: int, sample: int) -> dict[str, Any]:
    """Return a partition's share of a review: counts, flagged decisions with reasons, a keyed sample."""
    from riskscore.report.builder import batch_counts, flagged_order, with_reasons

    model = _worker_model(data)
    part = part.reset_index(drop=True)
    try:
        pred = model.predict(part, num_threads=1)
    except SchemaError as exc:
        raise SchemaError(f"partition {number}: {exc}") from None
    channel = pred["channel"].astype(str).to_numpy()
    risk = pred["risk_score"].to_numpy(dtype=np.float64)
    flagged_idx = flagged_order(channel, risk)
    reasons = model.explain(part.iloc[flagged_idx]).reasons if len(flagged_idx) else []
    flagged = with_reasons(pred.iloc[flagged_idx], reasons)
    flagged["_partition"] = number
    flagged["_position"] = flagged_idx
    key = np.random.default_rng([seed, number]).random(len(part))
    offered = np.sort(np.argsort(key, kind="stable")[:sample])
    channels, selection, unseen = batch_counts(pred)
    return {
        "records": len(part),
        "channels": channels,
        "selection": selection,
        "unseen": unseen,
        "flagged": flagged,
        "sample": part.iloc[offered].assign(_key=key[offered]),
        "sample_predictions": pred.iloc[offered],
    }


def _review_rows(
    part: pd.DataFrame, data: bytes, number: int, positions: list[int]
) -> tuple[pd.DataFrame, Any]:
    """Return the records at ``positions`` of a partition and their explanation (cases a page shows)."""
    rows = part.reset_index(drop=True).iloc[positions].reset_index(drop=True)
    return rows, _worker_model(data).explain(rows)


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
        from riskscore.training import labels_of, validated_with_labels
        from riskscore.validation import validate_frame

        try:
            if self.label is None:
                frame = validate_frame(part, self.spec, columns="declared", extra="keep")
            else:
                frame = validated_with_labels(part, self.spec, self.label)
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
        has_l, y, w = labels_of(frame, self.label, self.spec)
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


# ------------------------------------------------------------------------------------------------ train


def _scan(part: pd.DataFrame, records: _Records, number: int) -> tuple[dict[int, int], int]:
    """Return the records per day (days since 1970-01-01) of a partition, checked as training checks it."""
    from riskscore.features._common import days

    frame = records(part, number)[0]
    values, counts = np.unique(days(frame[records.spec.time_column]), return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True)), len(frame)


def _window(part: pd.DataFrame, records: _Records, number: int) -> pd.DataFrame:
    return records(part, number)[0]


def _cut_days(
    per_day: Mapping[int, int],
    valid: float,
    test: float,
    valid_from: object,
    test_from: object,
) -> tuple[int, int | None]:
    """First day index (days since 1970) of the validation and test windows, from the records per day.

    :func:`riskscore.training.split_days`, the decision :func:`riskscore.training.time_split` makes, so both
    split a data set at the same days.
    """
    from riskscore.training import split_days

    order = sorted(per_day)
    days = pd.Series(pd.to_datetime(np.asarray(order, dtype="datetime64[D]")))
    counts = np.asarray([per_day[d] for d in order], dtype=np.int64)
    cut_valid, cut_test = split_days(days, counts, valid, test, valid_from=valid_from, test_from=test_from)
    valid_day = int(np.datetime64(cut_valid, "D").astype(np.int64))
    test_day = None if cut_test is None else int(np.datetime64(cut_test, "D").astype(np.int64))
    return valid_day, test_day


def _training_rows(
    part: pd.DataFrame, builder: FeatureBuilder, records: _Records, number: int
) -> dict[str, Any]:
    """Return a partition's training records: the labelled ones' features, labels, weights; fingerprints."""
    frame, inspected, _, y, w = records(part, number)
    spec = records.spec
    labels = spec.labels
    X = builder.transform_training(frame)
    found = y != "green"
    physical = np.zeros(len(frame), dtype=bool)
    if labels is not None and labels.check is not None and labels.check in frame.columns:
        physical = frame[labels.check].astype(str).isin(labels.physical).to_numpy()
    times = frame[spec.time_column]
    return {
        "X": X[inspected],
        "y": y[inspected],
        "found": found[inspected],
        "red": (y == "red")[inspected],
        "w": w[inspected],
        "physical": physical[inspected],
        "rows": len(frame),
        "period": (times.min(), times.max()) if len(frame) else None,
        # riskscore.training._fingerprint's two arrays, hashed in order on the client
        "ids": pd.util.hash_pandas_object(frame[spec.id_column].astype(str), index=False).to_numpy(),
        "times": pd.util.hash_pandas_object(times.astype("int64"), index=False).to_numpy(),
    }


def _head_rows(rows: dict[str, Any], head: str) -> tuple[Any, Any, Any]:
    """(features, target, weights) of a head's records among a partition's labelled ones."""
    if head == "risk":
        return rows["X"], rows["found"].astype(int), rows["w"]
    if head == "physical":
        keep = rows["physical"]
        return rows["X"][keep], rows["found"][keep].astype(int), rows["w"][keep]
    keep = rows["found"]  # severity: found violations, red or not; unweighted, as riskscore.train
    return rows["X"][keep], rows["red"][keep].astype(int), np.ones(int(keep.sum()))


def _pick(value: tuple[Any, ...], i: int) -> Any:
    return value[i]


def _get(rows: dict[str, Any], key: str) -> Any:
    return rows[key]


def _lgb_params(est: ChannelModel) -> dict[str, Any]:
    """ChannelModel's LightGBM parameters, under the names lightgbm's scikit-learn classes take."""
    params = est._params(2)
    renamed = {
        "min_data_in_leaf": "min_child_samples",
        "feature_fraction": "colsample_bytree",
        "bagging_fraction": "subsample",
        "bagging_freq": "subsample_freq",
        "lambda_l2": "reg_lambda",
        "seed": "random_state",
    }
    out = {renamed.get(k, k): v for k, v in params.items() if k != "num_threads"}  # one per worker thread
    out["n_estimators"] = est.n_estimators
    return out


def _stopping_iteration(booster: Any, eval_set: tuple[Any, Any, Any] | None, est: ChannelModel) -> int:
    """Return the iteration LightGBM's early stopping keeps, replayed on the (local) validation records.

    lightgbm.dask has no early stopping (LightGBM issues 3712, 4189): every round is trained, then the
    weighted binary log loss of each round on the validation records picks the iteration exactly as
    ``lightgbm.early_stopping(est.early_stopping_rounds)`` would have stopped.
    """
    rounds = booster.current_iteration()
    if eval_set is None:
        return int(rounds)
    Xv, yv, wv = eval_set
    yv = np.asarray(yv, dtype=np.float64)
    weights = np.ones(len(yv)) if wv is None else est._weights(np.asarray(yv, dtype=np.intp), wv)
    leaves = np.asarray(booster.predict(Xv, pred_leaf=True), dtype=np.intp).reshape(len(yv), -1)
    tree_info = booster.dump_model(num_iteration=rounds)["tree_info"]
    raw = np.zeros(len(yv))
    best, best_iter = np.inf, 0
    for t in range(rounds):
        values = np.array([booster.get_leaf_output(t, leaf) for leaf in range(tree_info[t]["num_leaves"])])
        raw = raw + values[leaves[:, t]]
        p = np.clip(1.0 / (1.0 + np.exp(-raw)), 1e-15, 1 - 1e-15)
        loss = float(np.sum(-weights * (yv * np.log(p) + (1 - yv) * np.log(1 - p))) / np.sum(weights))
        if t == 0 or loss < best:
            best, best_iter = loss, t
        elif t - best_iter >= est.early_stopping_rounds:
            break
    return best_iter + 1


def _fit_head(
    c: Client,
    est: ChannelModel,
    rows: list[Future],
    sizes: list[int],
    head: str,
    eval_set: tuple[Any, Any, Any] | None,
    features: int,
) -> ChannelModel:
    """Fit one head with lightgbm.dask on the partitions' rows; a fitted ChannelModel (its booster)."""
    import dask
    import dask.array as da

    lgb_dask = require("lightgbm.dask", extra="scale", feature="riskscore.distributed.train")
    parts = [c.submit(_head_rows, r, head) for r in rows]
    n = c.gather([c.submit(_pick_len, p) for p in parts])
    kept = [(p, k) for p, k in zip(parts, n, strict=True) if k > 0]
    X = da.concatenate(
        [da.from_delayed(dask.delayed(_pick)(p, 0), shape=(k, features), dtype=np.float64) for p, k in kept]
    )
    y = da.concatenate(
        [da.from_delayed(dask.delayed(_pick)(p, 1), shape=(k,), dtype=np.int64) for p, k in kept]
    )
    w = da.concatenate(
        [da.from_delayed(dask.delayed(_pick)(p, 2), shape=(k,), dtype=np.float64) for p, k in kept]
    )
    model = lgb_dask.DaskLGBMClassifier(client=c, **_lgb_params(est))
    with warnings.catch_warnings():
        # lightgbm.dask sets each worker's threads itself and says so for the n_jobs it is always given
        warnings.filterwarnings("ignore", message="Parameter .* will be ignored", category=UserWarning)
        model.fit(X, y, sample_weight=w, categorical_feature=list(est.categorical_features) or "auto")
    fitted = est.__class__(**est.get_params())
    fitted.booster_ = model.booster_
    fitted.classes_ = np.array([0, 1])
    fitted.n_features_in_ = features
    fitted.best_iteration_ = _stopping_iteration(model.booster_, eval_set, est)
    del parts, kept, sizes
    return fitted


def _pick_len(value: tuple[Any, ...]) -> int:
    return len(value[1])


def train(
    ddf: dd.DataFrame,
    *,
    kind: str | RecordSpec = "shipment",
    client: Client | None = None,
    label: str = "observed",
    allow_truth: bool = False,
    valid_fraction: float = 0.15,
    test_fraction: float = 0.15,
    valid_from: object = None,
    test_from: object = None,
    policy: ChannelPolicy | None = None,
    include_protected: tuple[str, ...] = (),
    estimator: ChannelModel | None = None,
    seed: int = 0,
    shards: int | None = None,
) -> TrainResult:
    """Train a channel model on a dask DataFrame of records: :func:`riskscore.train` across a cluster.

    The steps of :func:`riskscore.train`, with the heavy ones on the workers:

    * the time split at the same days (records per day are counted per partition);
    * the feature state fitted from the partitions exactly as :func:`fit_features` does (equal to the
      one-machine state), each partition's training features built on its worker from that state (no
      process holds the whole matrix);
    * the risk head (and the physical-check head, where the spec names the check column) fitted with
      ``lightgbm.dask.DaskLGBMClassifier`` on the inspected records, with the local ChannelModel's
      parameters and inverse-propensity weights; the severity head likewise on found violations. lightgbm.dask
      has no early stopping: every round is trained and the iteration early stopping would keep is replayed
      on the validation window;
    * calibration, policy thresholds, the history extended with the validation window and the held-out
      metrics, as on one machine, on the validation and test windows, which are brought to this process.

    LightGBM's distributed training (``tree_learner="data"``) is not bit-identical to training on one
    machine, so neither are the trees; docs/api.md gives the measured difference in scores.

    Parameters
    ----------
    ddf
        Records of the spec with their outcome columns, partitions in time order (each partition's first day
        no earlier than the previous partition's last day, as a generated or exported data set is): the
        training window is then the same records in the same order as on one machine.
    kind, label, allow_truth, valid_fraction, test_fraction, valid_from, test_from, policy, include_protected, estimator, seed
        As in :func:`riskscore.train`; LightGBM runs one thread per Dask worker thread.
    client
        The Dask client (default: the current one). Its workers must be separate processes.
    shards
        As in :func:`fit_features`.

    Returns
    -------
    TrainResult
        As :func:`riskscore.train`'s; the model's ``info["distributed"]`` says how it was trained.

    Raises
    ------
    ParameterError
        Partitions out of time order, or the arguments :func:`riskscore.train` refuses.
    SchemaError
        A partition does not match the spec (named), or too few labelled records.
    """
    import dask

    from riskscore.features.builder import FeatureBuilder
    from riskscore.model import ChannelModel, RiskModel
    from riskscore.policy import CHANNELS, default_policy
    from riskscore.spec import load_spec
    from riskscore.training import TrainResult, check_label, finish_model, held_out_metrics, labels_of

    c = _client_or_default(client, "riskscore.distributed.train")
    _quiet_lightgbm()
    c.run(_quiet_lightgbm)  # on every worker, before lightgbm.dask opens its network
    spec = load_spec(kind)
    check_label(label, allow_truth)
    n_shards = _shards_default(c) if shards is None else shards
    if isinstance(n_shards, bool) or not isinstance(n_shards, int) or n_shards < 1:
        raise ParameterError(f"shards must be a whole number >= 1; got {shards!r}")
    parts = ddf.to_delayed()

    # 1. the time split, from records per day
    scans = c.compute([dask.delayed(_scan)(p, _Records(spec, label), i) for i, p in enumerate(parts)])
    per_part = c.gather(scans)
    del scans
    previous: tuple[int, int] | None = None
    per_day: dict[int, int] = {}
    for i, (counts, _) in enumerate(per_part):
        if not counts:
            continue
        first, last = min(counts), max(counts)
        if previous is not None and first < previous[1]:
            day = np.datetime64(first, "D")
            raise ParameterError(
                f"partition {i} starts on {day}, before the last day of partition {previous[0]}; distributed "
                "training reads partitions in time order: sort the records by time (e.g. write them in time "
                "order, or ddf.sort_values(time column)) first"
            )
        previous = (i, last)
        for d, n in counts.items():
            per_day[d] = per_day.get(d, 0) + n
    valid_day, test_day = _cut_days(per_day, valid_fraction, test_fraction, valid_from, test_from)

    def window(first: int | None, end: int | None) -> pd.DataFrame:
        records = _Records(spec, label, (first, end))
        frames = c.gather(c.compute([dask.delayed(_window)(p, records, i) for i, p in enumerate(parts)]))
        return pd.concat(frames, ignore_index=True)

    valid_f = window(valid_day, test_day)
    test_f = window(test_day, None) if test_day is not None else valid_f.iloc[0:0]
    train_records = _Records(spec, label, (None, valid_day))

    # 2. the feature state from the training window's partitions
    builder = FeatureBuilder(spec, include_protected=tuple(include_protected))
    _fit_state(c, builder, parts, train_records, n_shards)
    shipped = c.scatter(builder, broadcast=True, hash=False)
    rows = c.compute(
        [dask.delayed(_training_rows)(p, shipped, train_records, i) for i, p in enumerate(parts)]
    )
    summary = c.gather([c.submit(_summary, r) for r in rows])
    labelled = sum(s["labelled"] for s in summary)
    classes = sorted(set().union(*(s["classes"] for s in summary)))
    if labelled < 50 or len(classes) < 2:
        raise SchemaError(
            f"too few labelled records to train: {labelled} inspected in the training window, "
            f"classes {classes}; provide more history"
        )
    Xv = builder.transform(valid_f)
    v_has, v_y, v_w = labels_of(valid_f, label, spec)
    unknown = sorted(set(classes) - set(CHANNELS)) + sorted(set(v_y[v_has]) - set(CHANNELS))
    if unknown:
        raise SchemaError(f"labels must be channels {CHANNELS}; found {sorted(set(unknown))}")
    features = len(builder.feature_names_)
    cat_idx = tuple(builder.feature_names_.index(name) for name in builder.categorical_features)

    # 3. the heads, on the workers
    est = estimator if estimator is not None else ChannelModel()
    est.set_params(categorical_features=cat_idx, num_threads=1, random_state=seed)
    v_found = v_y != "green"
    eval_set = (
        (Xv[v_has], v_found[v_has].astype(int), v_w[v_has])
        if v_has.sum() >= 50 and len(set(v_found[v_has])) > 1
        else None
    )
    sizes = [s["labelled"] for s in summary]
    est = _fit_head(c, est, rows, sizes, "risk", eval_set, features)
    physical_head = _physical_head(
        c, est, spec, rows, sizes, summary, valid_f, Xv, v_has, v_found, v_w, features
    )
    found_total = sum(s["found"] for s in summary)
    red_total = sum(s["red"] for s in summary)
    severity, severity_prior = None, (red_total / found_total if found_total else 0.0)
    if red_total >= _min_severe() and found_total - red_total >= _min_severe():
        from sklearn.base import clone

        sev_est = clone(est).set_params(
            n_estimators=min(est.n_estimators, 300), num_leaves=15, min_child_samples=20
        )
        v_sev = v_has & v_found
        sev_eval = (
            (Xv[v_sev], (v_y[v_sev] == "red").astype(int), None)
            if (v_y[v_sev] == "red").sum() >= 5 and (v_y[v_sev] != "red").sum() >= 5
            else None
        )
        severity = _fit_head(c, sev_est, rows, sizes, "severity", sev_eval, features)
    train_rows = sum(s["rows"] for s in summary)
    fingerprint = _stream_fingerprint(c, rows)
    periods = [s["period"] for s in summary if s["period"] is not None]
    del rows, shipped

    # 4. calibration, policy, history, metrics: on the validation and test windows, here
    builder.compact_history()
    model = RiskModel(
        spec,
        builder,
        est,
        policy or default_policy(spec),
        (np.zeros(0), np.zeros(0)),
        severity=severity,
        severity_prior=float(severity_prior),
    )
    workers = len(c.scheduler_info().get("workers", {}))
    finish_model(
        model,
        valid_f,
        (v_has, v_y, v_w),
        label=label,
        seed=seed,
        num_threads=1,
        data_fingerprint=fingerprint,
        info={
            "training_rows": train_rows,
            "training_labelled_rows": labelled,
            "training_period": [str(min(p[0] for p in periods)), str(max(p[1] for p in periods))],
            "training_data_sha256": fingerprint,
            "include_protected": list(include_protected),
            "physical_head": physical_head,
            # how this model was trained: LightGBM data-parallel on the cluster's workers, early stopping
            # replayed on the validation window; no monitoring reference (it reads the whole training window)
            "distributed": {
                "workers": workers,
                "partitions": len(parts),
                "tree_learner": "data",
                "early_stopping": "replayed on the validation window",
            },
        },
    )
    model.info["metrics"] = held_out_metrics(model, test_f, num_threads=1)
    log.info(
        "trained %s on %d records (%d labelled) on %d workers", model.version, train_rows, labelled, workers
    )
    return TrainResult(model, train_rows, len(valid_f), test_f)


def _summary(rows: dict[str, Any]) -> dict[str, Any]:
    found = rows["found"]
    return {
        "rows": rows["rows"],
        "labelled": len(found),
        "found": int(found.sum()),
        "red": int(rows["red"].sum()),
        "physical": int(rows["physical"].sum()),
        "physical_found": int((rows["physical"] & found).sum()),
        "classes": {str(v) for v in np.unique(rows["y"])},
        "period": rows["period"],
    }


def _min_severe() -> int:
    from riskscore.training import MIN_SEVERE

    return MIN_SEVERE


def _stream_fingerprint(c: Client, rows: list[Future]) -> str:
    """riskscore.training._fingerprint of the training window, hashed one partition at a time here."""
    h = hashlib.sha256()
    for key in ("ids", "times"):
        for r in rows:
            h.update(np.ascontiguousarray(c.submit(_get, r, key).result()).tobytes())
    return h.hexdigest()


def _physical_head(
    c: Client,
    est: ChannelModel,
    spec: RecordSpec,
    rows: list[Future],
    sizes: list[int],
    summary: list[dict[str, Any]],
    valid_f: pd.DataFrame,
    Xv: Any,
    v_has: Any,
    v_found: Any,
    v_w: Any,
    features: int,
) -> dict[str, Any] | None:
    """riskscore.training's physical-check head, fitted on the workers (see ``_physical_head`` there)."""
    from sklearn.base import clone

    from riskscore._lgbmerge import merge_boosters
    from riskscore.training import MIN_PHYSICAL, platt_slope

    labels = spec.labels
    if labels is None or labels.check is None or labels.check not in valid_f.columns:
        return None
    phys = sum(s["physical"] for s in summary)
    phys_found = sum(s["physical_found"] for s in summary)
    v_phys = v_has & valid_f[labels.check].astype(str).isin(labels.physical).to_numpy()
    enough = phys >= MIN_PHYSICAL and 0 < phys_found < phys
    enough = (
        enough and int(v_phys.sum()) >= MIN_PHYSICAL and 0 < int(v_found[v_phys].sum()) < int(v_phys.sum())
    )
    if not enough:
        return None
    eval_set = (Xv[v_phys], v_found[v_phys].astype(int), v_w[v_phys])
    head = _fit_head(c, clone(est), rows, sizes, "physical", eval_set, features)

    def margin(model: ChannelModel, keep: Any) -> Any:
        return np.asarray(
            model.booster_.predict(
                Xv[keep], raw_score=True, num_iteration=model.best_iteration_, num_threads=1
            ),
            dtype=np.float64,
        )

    weights = (
        platt_slope(margin(est, v_has), v_found[v_has], v_w[v_has]),
        platt_slope(margin(head, v_phys), v_found[v_phys], v_w[v_phys]),
    )
    if not (weights[0] > 0 and weights[1] > 0):
        return None
    iterations = (est.best_iteration_, head.best_iteration_)
    est.booster_ = merge_boosters(est.booster_, head.booster_, weights, iterations=iterations)
    est.best_iteration_ = est.booster_.current_iteration()
    return {
        "check": labels.check,
        "physical": list(labels.physical),
        "physical_rows": phys,
        "trees": [int(iterations[0]), int(iterations[1])],
        "weights": [round(weights[0], 6), round(weights[1], 6)],
    }
