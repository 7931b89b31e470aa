"""Fixtures of the riskscore.distributed tests: one two-worker LocalCluster for the whole folder.

Workers are processes (as on a real cluster: everything sent to them is pickled), one thread each, so the
tests share the two cores with nothing else; LightGBM runs one thread per worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("distributed", reason="riskscore.distributed needs the 'scale' extra")

from riskscore import distributed

SHIPMENTS = 70_000  # two generator blocks (65,536 records each); files of 30,000 cut through the first block
PARTITION_ROWS = 30_000


@pytest.fixture(scope="session")
def client() -> Iterator[object]:
    """A LocalCluster of two worker processes with one thread each (read-only: do not close it)."""
    with distributed.client(n_workers=2, threads_per_worker=1, processes=True) as c:
        yield c


@pytest.fixture(scope="session")
def shipments_dir(client, tmp_path_factory):
    """70,000 shipments (seed 5) written by riskscore.distributed.generate in files of 30,000 (read-only)."""
    out = tmp_path_factory.mktemp("gen") / "shipments"
    return distributed.generate(
        "shipments", SHIPMENTS, out, seed=5, partition_rows=PARTITION_ROWS, client=client
    )


@pytest.fixture(scope="session")
def passengers_dir(client, tmp_path_factory):
    """40,000 passenger crossings (seed 6) in files of 15,000 (read-only)."""
    out = tmp_path_factory.mktemp("gen") / "passengers"
    return distributed.generate("passengers", 40_000, out, seed=6, partition_rows=15_000, client=client)
