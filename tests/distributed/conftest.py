"""Fixtures of the riskscore.distributed tests: one two-worker LocalCluster for the whole folder.

Workers are processes (as on a real cluster: everything sent to them is pickled), one thread each, so the
tests share the two cores with nothing else; LightGBM runs one thread per worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("distributed", reason="riskscore.distributed needs the 'scale' extra")

from riskscore import distributed


@pytest.fixture(scope="session")
def client() -> Iterator[object]:
    """A LocalCluster of two worker processes with one thread each (read-only: do not close it)."""
    with distributed.client(n_workers=2, threads_per_worker=1, processes=True) as c:
        yield c
