"""File helpers: reading record tables and writing files atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from riskscore.exceptions import OutputError, SchemaError

__all__ = ["atomic_write_text", "check_output", "iter_table", "publish", "read_table", "temp_beside"]


def _check_input(path: Path) -> str:
    if not path.exists():
        raise SchemaError(f"data file {str(path)!r} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise SchemaError(
            f"data file {str(path)!r} must be .parquet or .csv; got {suffix or 'no extension'!r}"
        )
    return suffix


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a parquet or CSV table of records (types are coerced later by the spec)."""
    p = Path(path)
    suffix = _check_input(p)
    return pd.read_parquet(p) if suffix == ".parquet" else pd.read_csv(p)


def iter_table(
    path: str | os.PathLike[str], rows: int, columns: Iterable[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of at most ``rows`` records, with memory bounded by the chunk size.

    ``columns``: read only these (those the file has; the spec check names any required one missing),
    so truth, outcome and other undeclared columns are never loaded.
    """
    p = Path(path)
    keep = None if columns is None else frozenset(columns)
    if _check_input(p) == ".parquet":
        import pyarrow.parquet as pq

        # pre_buffer=False: with pre-buffering, pyarrow keeps every row group's coalesced reads cached for
        # the life of the reader, so memory grew by ~12 MB per 200,000 rows (docs/benchmarks.md)
        with pq.ParquetFile(p, pre_buffer=False) as pf:
            wanted = None if keep is None else [c for c in pf.schema_arrow.names if c in keep]
            for batch in pf.iter_batches(batch_size=rows, columns=wanted):
                yield batch.to_pandas()
    else:
        yield from pd.read_csv(p, chunksize=rows, usecols=None if keep is None else keep.__contains__)


def check_output(path: str | os.PathLike[str], suffixes: tuple[str, ...]) -> Path:
    """Validate an output path before any work: extension and a writable folder."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise OutputError(
            f"output {str(p)!r} must end in {' or '.join(suffixes)}; got {p.suffix or 'no extension'!r}"
        )
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(
            f"output folder {str(folder)!r} does not exist; create it first or choose another path"
        )
    if not os.access(folder, os.W_OK):
        raise OutputError(f"output folder {str(folder)!r} is not writable; choose a path you can write to")
    return p


def temp_beside(path: Path) -> Path:
    """Create a fresh temporary file next to ``path`` (same file system, so a rename is atomic)."""
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part", dir=path.parent if str(path.parent) else "."
    )
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
    os.replace(tmp, path)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write text to ``path`` via a temporary file and a rename."""
    p = Path(path)
    tmp = temp_beside(p)
    try:
        tmp.write_text(text, encoding="utf-8")
        publish(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
