"""File helpers: reading record tables, writing files atomically and writing CSV safe for spreadsheets."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskscore.exceptions import OutputError, ParameterError, SchemaError

if TYPE_CHECKING:
    from riskscore.spec import RecordSpec

__all__ = [
    "ParquetChunks",
    "atomic_write_text",
    "check_output",
    "check_output_folder",
    "iter_table",
    "publish",
    "read_records",
    "read_table",
    "safe_csv",
    "temp_beside",
    "write_csv_rows",
]

# Spec types read from CSV as text: codes keep their leading zeros (HS 080510, office 02CI) and dates reach
# the spec's parser as written, instead of being guessed by pandas.
_TEXT_TYPES = frozenset({"string", "category", "datetime"})
# pandas' documented default missing-value markers, kept for numeric and unknown columns. Once any column
# has its own list (keep_default_na=False), pandas applies no default to the others, so they need theirs.
_PANDAS_NA = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip


# ------------------------------------------------------------------------------------------------ reading


def _check_input(path: Path) -> str:
    if not path.exists():
        raise SchemaError(f"data file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise SchemaError(
            f"data file {str(path)!r} is a folder, not a file; give the path of a .parquet or .csv file"
        )
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise SchemaError(
            f"data file {str(path)!r} must be .parquet or .csv; got {suffix or 'no extension'!r}"
        )
    return suffix


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn the ways a data file can be unreadable into a SchemaError naming the file and the fix."""
    import pyarrow as pa

    name = repr(str(path))
    try:
        yield
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start] if isinstance(exc.object, bytes) and exc.start < len(exc.object) else None
        byte = f" byte 0x{bad:02x}" if bad is not None else " a byte"
        raise SchemaError(
            f"data file {name} is not UTF-8 text (it holds{byte} that UTF-8 cannot decode: UTF-16, or a "
            "legacy code page?); save it as UTF-8 CSV (Excel: 'CSV UTF-8') or as parquet"
        ) from None
    except pd.errors.EmptyDataError:
        raise SchemaError(
            f"data file {name} is empty; a CSV needs at least a header row naming the columns"
        ) from None
    except pd.errors.ParserError as exc:
        raise SchemaError(
            f"data file {name} is not a well-formed CSV ({str(exc).strip()}); fix the file or export it again"
        ) from None
    except pa.ArrowException as exc:
        raise SchemaError(
            f"data file {name} is not a readable parquet file ({str(exc).strip()}); it may be truncated or "
            "in another format: write it again"
        ) from None
    except OSError as exc:
        raise SchemaError(
            f"data file {name} cannot be read ({exc.strerror or exc}); check the path and its permissions"
        ) from None


def _csv_options(path: Path, spec: RecordSpec | None) -> dict[str, Any]:
    """read_csv options that read the spec's text columns as text and leave the rest to pandas."""
    if spec is None:
        return {}
    header = pd.read_csv(path, nrows=0).columns
    text = {c.name for c in spec.columns if c.type in _TEXT_TYPES}
    return {
        "dtype": {name: "str" for name in header if name in text},
        # In a text column only an empty cell is missing: "NA" is Namibia's country code and "null" or
        # "None" may be somebody's reference; numeric and unknown columns keep pandas' usual markers.
        "keep_default_na": False,
        "na_values": {name: [""] if name in text else list(_PANDAS_NA) for name in header},
    }


def _as_spec(spec: RecordSpec | str | os.PathLike[str] | None) -> RecordSpec | None:
    if spec is None:
        return None
    from riskscore.spec import load_spec

    return load_spec(spec)


def _parquet_columns(path: Path, keep: frozenset[str] | None) -> list[str] | None:
    if keep is None:
        return None
    import pyarrow.parquet as pq

    return [c for c in pq.read_schema(path).names if c in keep]


def read_table(
    path: str | os.PathLike[str],
    *,
    spec: RecordSpec | str | os.PathLike[str] | None = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read a parquet or CSV table of records whole (values are coerced later by the spec).

    Parameters
    ----------
    path
        A ``.parquet`` or ``.csv`` file.
    spec
        The record spec (or anything :func:`~riskscore.spec.load_spec` accepts). With a spec, a CSV's
        string, category and datetime columns are read as text, and in them only an empty cell is
        missing; without one, pandas guesses every column's type (an HS code ``080510`` becomes 80510).
    columns
        Read only these columns (those the file has); default all.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    SchemaError
        The file is missing, a folder, of another kind, empty, truncated or not UTF-8.
    """
    p = Path(path)
    suffix = _check_input(p)
    record_spec = _as_spec(spec)
    keep = None if columns is None else frozenset(columns)
    with _reading(p):
        if suffix == ".parquet":
            return pd.read_parquet(p, columns=_parquet_columns(p, keep))
        return pd.read_csv(
            p, usecols=None if keep is None else keep.__contains__, **_csv_options(p, record_spec)
        )


def iter_table(
    path: str | os.PathLike[str],
    rows: int,
    columns: Iterable[str] | None = None,
    *,
    spec: RecordSpec | str | os.PathLike[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of at most ``rows`` records, with memory bounded by the chunk size.

    ``columns``: read only these (those the file has; the spec check names any required one missing),
    so truth, outcome and other undeclared columns are never loaded. ``spec``: as in :func:`read_table`.
    At least one frame is yielded, empty for a file without rows, so the columns are known even then.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ParameterError(f"rows (the chunk size) must be a whole number >= 1; got {rows!r}")
    p = Path(path)
    keep = None if columns is None else frozenset(columns)
    suffix = _check_input(p)
    record_spec = _as_spec(spec)
    with _reading(p):
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            # pre_buffer=False: with pre-buffering, pyarrow keeps every row group's coalesced reads cached
            # for the life of the reader, so memory grew by ~12 MB per 200,000 rows (docs/benchmarks.md)
            with pq.ParquetFile(p, pre_buffer=False) as pf:
                wanted = None if keep is None else [c for c in pf.schema_arrow.names if c in keep]
                empty = True
                for batch in pf.iter_batches(batch_size=rows, columns=wanted):
                    empty = False
                    yield batch.to_pandas()
                if empty:
                    schema = pf.schema_arrow
                    yield schema.empty_table().select(wanted or schema.names).to_pandas()
        else:
            options = _csv_options(p, record_spec)
            usecols = None if keep is None else keep.__contains__
            empty = True
            with pd.read_csv(p, chunksize=rows, usecols=usecols, **options) as reader:
                for chunk in reader:
                    empty = False
                    yield chunk
            if empty:
                yield pd.read_csv(p, nrows=0, usecols=usecols, **options)


def read_records(
    path: str | os.PathLike[str],
    spec: RecordSpec | str | os.PathLike[str] = "shipment",
    *,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read records from a parquet or CSV file the way the spec expects them, without guessing types.

    A CSV's ``string``, ``category`` and ``datetime`` columns are read as text, so codes keep their
    leading zeros (HS code ``080510``, not 80510) and dates reach the spec's parser as written. In those
    columns only an empty cell is missing: the text ``NA`` (Namibia), ``null`` or ``None`` stays a value.
    Numeric and boolean columns, and columns the spec does not know, are read as pandas reads them (empty,
    ``NA``, ``nan``... are missing) and coerced by the spec later. Parquet files carry their types.

    The frame is not validated: :meth:`RiskModel.predict <riskscore.model.RiskModel.predict>` and
    :func:`~riskscore.training.train` validate what they use, and :func:`~riskscore.validation.validate_frame`
    gives the canonical dtypes and names the first bad value.

    Parameters
    ----------
    path
        A ``.parquet`` or ``.csv`` file (CSV: UTF-8, a header row naming the columns).
    spec
        A built-in spec name (``"shipment"``, ``"passenger"``), a spec TOML path or a
        :class:`~riskscore.spec.RecordSpec` (a model's ``model.spec``).
    columns
        Read only these columns (those the file has; the spec check names any required one missing), e.g.
        ``model.spec.declared_columns`` to leave truth and outcome columns on disk. Default: all.

    Returns
    -------
    pandas.DataFrame
        The file's rows and columns, text columns as pandas' ``str`` dtype.

    Raises
    ------
    SchemaError
        The file is missing, a folder, not .parquet/.csv, empty, truncated or not UTF-8.
    SpecError
        The spec is unknown or malformed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import riskscore
    >>> from riskscore.synthetic import write_records
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = write_records("shipments", 500, pathlib.Path(folder.name) / "batch.csv", progress=False)
    >>> records = riskscore.read_records(path, "shipment")
    >>> bool(records["hs_code"].str.fullmatch(r"[0-9]{6}").all())  # leading zeros kept: 080510
    True
    >>> clean = riskscore.validate_frame(records, "shipment")
    >>> str(clean["declared_at"].dtype)
    'datetime64[ns]'
    >>> folder.cleanup()
    """
    from riskscore.spec import load_spec

    return read_table(path, spec=load_spec(spec), columns=columns)


# ------------------------------------------------------------------------------------------------ writing


def check_output(path: str | os.PathLike[str], suffixes: tuple[str, ...]) -> Path:
    """Validate an output path before any work: extension, not a folder, a writable folder."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise OutputError(
            f"output {str(p)!r} must end in {' or '.join(suffixes)}; got {p.suffix or 'no extension'!r}"
        )
    if p.is_dir():
        raise OutputError(
            f"output {str(p)!r} is an existing folder, not a file; give the path of a file to write, for "
            f"example {str(p / ('out' + p.suffix))!r}"
        )
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(
            f"output folder {str(folder)!r} does not exist; create it first or choose another path"
        )
    if not os.access(folder, os.W_OK):
        raise OutputError(f"output folder {str(folder)!r} is not writable; choose a path you can write to")
    return p


def check_output_folder(path: str | os.PathLike[str], *, create: bool) -> Path:
    """Validate an output folder before any work: an existing folder you can write to.

    With ``create=True`` the folder may also be a new name in an existing, writable folder.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"output folder {str(p)!r} is an existing file, not a folder; choose a folder name")
    if p.is_dir():
        if not os.access(p, os.W_OK):
            raise OutputError(f"output folder {str(p)!r} is not writable; choose a folder you can write to")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not create or not parent.is_dir():
        missing = parent if create else p
        raise OutputError(
            f"output folder {str(missing)!r} does not exist; create it first or choose another path"
        )
    try:
        # a real attempt: os.access says yes to root in a read-only mount or in /proc
        os.mkdir(p)
        os.rmdir(p)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {str(p)!r} ({exc.strerror or exc}); choose a path you can write to"
        ) from None
    return p


# Temporary names carry the writer's PID so that a later writer can tell a stale file (its writer was
# killed) from one being written right now: .{target}.{pid}.{random}.part
_PART = re.compile(r"(\d+)\.[A-Za-z0-9_]+\.part")
_NAME_BYTES = 200  # room for the pid, the random part and ".part" within the usual 255-byte name limit


def _temp_prefix(path: Path) -> str:
    name = path.name.encode("utf-8", "surrogateescape")[:_NAME_BYTES].decode("utf-8", "ignore")
    return f".{name}."


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we wrote: never delete it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    except OSError:
        return True
    return True


def _remove_stale_temporaries(folder: Path, prefix: str) -> None:
    """Delete ``{prefix}{pid}.{random}.part`` files of this target whose writer is no longer running.

    A writer killed by SIGKILL (or a power cut) cannot clean up after itself; its temporary is removed
    by the next write to the same target. Files of a live PID are left alone, so two writers running at
    once never delete each other's file. PIDs are those of this host: a folder shared between machines
    could hold a live writer's file whose PID is free here.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _PART.fullmatch(entry.name[len(prefix) :])
        if match is None or _pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):  # another writer may have removed it first
            os.unlink(entry.path)


def temp_beside(path: Path) -> Path:
    """Create a fresh temporary file next to ``path`` (same file system, so a rename is atomic).

    The name is ``.{name}.{pid}.{random}.part``. Stale temporaries of the same target, left by a writer
    that was killed, are removed first.

    Raises
    ------
    OutputError
        The temporary file cannot be created (a read-only or special folder such as /proc).
    """
    folder = path.parent if str(path.parent) else Path(".")
    prefix = _temp_prefix(path)
    _remove_stale_temporaries(folder, prefix)
    try:
        fd, name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(
            f"cannot write {str(path)!r}: creating a file in {str(folder)!r} failed "
            f"({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    os.close(fd)
    return Path(name)


def publish(tmp: Path, path: Path) -> Path:
    """Give a finished temporary file ordinary permissions (0666 less the umask) and rename it into place.

    mkstemp creates files readable by their owner only; a published data file or model card should be
    as readable as any file the user creates.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(
            f"cannot write {str(path)!r} ({exc.strerror or exc}); choose another path or remove what is there"
        ) from None
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write text to ``path`` via a temporary file and a rename."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Give a temporary file beside ``path`` to write; publish it at ``path`` only when the block succeeds.

    A failed write (disk full, permissions) raises OutputError naming the path; whatever fails, the
    temporary file is removed and ``path`` keeps its previous content.
    """
    p = Path(path)
    tmp = temp_beside(p)
    try:
        try:
            yield tmp
        except OSError as exc:
            if isinstance(exc, OutputError):
                raise
            raise OutputError(
                f"cannot write {str(p)!r} ({exc.strerror or exc}); check the free space and permissions"
            ) from None
        publish(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------- CSV for people to open

# OWASP (CSV injection): a cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells starting like a formula get a leading ``'``; numbers stay numbers."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
            out[name] = col  # a negative number is a number, not a formula
            continue
        values = col.to_numpy(dtype=object)
        risky = np.fromiter(
            (isinstance(v, str) and v.startswith(_FORMULA_START) for v in values),
            dtype=bool,
            count=len(values),
        )
        if risky.any():
            values = values.copy()
            values[risky] = ["'" + v for v in values[risky]]
        out[name] = pd.Series(values, index=frame.index, dtype=object)
    return pd.DataFrame(out, index=frame.index)


def write_csv_rows(frame: pd.DataFrame, fh: IO[str], *, header: bool) -> None:
    """Append ``frame`` to an open text file as spreadsheet-safe CSV (see :func:`safe_csv`).

    ``fh`` must be opened with ``newline=""`` so that quoted line breaks inside a cell stay as written.
    """
    _neutralised(frame).to_csv(fh, header=header, index=False, quoting=csv.QUOTE_ALL, lineterminator="\r\n")


def safe_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a CSV for people to open in a spreadsheet, atomically.

    Text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading ``'``
    (OWASP's advice against formula injection), so a spreadsheet shows them as text instead of running
    them; numeric columns are written as numbers. Every field is quoted, so a line break inside a cell
    (an id holding a CR LF) stays inside its row for any CSV reader. Rows end in CRLF (RFC 4180).

    Parameters
    ----------
    frame
        The table; its index is not written.
    path
        The destination, replaced only once the file is complete.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputError
        The file cannot be written.
    """
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        write_csv_rows(frame, fh, header=True)
    return Path(path)


class ParquetChunks:
    """Write frames one after another into one parquet file (zstd), in the first frame's schema.

    Use as a context manager; the file is complete when the block ends (the caller publishes it).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._writer: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        """Append one frame (cast to the file's schema)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table.cast(self._writer.schema))

    def __enter__(self) -> ParquetChunks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
