"""riskscore.distributed.generate and score on a two-worker LocalCluster: the same records, the same scores."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import riskscore
from riskscore import distributed
from riskscore._optional import MissingDependencyError
from riskscore.exceptions import OutputError, ParameterError, SchemaError
from riskscore.synthetic import generate as generate_local
from tests.distributed.conftest import SHIPMENTS
from tests.distributed.frames import assert_same_frame

dd = pytest.importorskip("dask.dataframe")

ROWS = SHIPMENTS


@pytest.fixture(scope="module")
def dataset(shipments_dir):
    return shipments_dir


def test_generated_files_joined_in_order_are_the_one_machine_frame(dataset):
    files = sorted(dataset.glob("*.parquet"))
    assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    parts = [pd.read_parquet(f) for f in files]
    assert [len(p) for p in parts] == [30_000, 30_000, 10_000]
    joined = pd.concat(parts, ignore_index=True)
    assert_same_frame(joined, generate_local("shipments", ROWS, seed=5, progress=False))
    assert not list(dataset.parent.glob(".*part")), "no temporary file or folder is left"


def test_generate_refuses_a_folder_that_is_not_empty(client, dataset):
    with pytest.raises(OutputError, match="is not empty; choose a new folder"):
        distributed.generate("shipments", 1_000, dataset, client=client)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"partition_rows": 0}, "chunk_rows must be a whole number >= 1"), ({"seed": -1}, "seed must be")],
)
def test_generate_refuses_bad_arguments_before_any_work(client, tmp_path, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        distributed.generate("shipments", 1_000, tmp_path / "out", client=client, **kwargs)
    assert not (tmp_path / "out").exists()


def test_scores_equal_predict_on_the_whole_frame_bit_for_bit(dataset, shipped_model):
    ddf = dd.read_parquet(dataset)
    assert ddf.npartitions == 3
    scored = distributed.score(shipped_model, ddf.partitions[1:])  # the files cut through a block
    assert list(scored.columns) == list(riskscore.OUTPUT_COLUMNS)
    got = scored.compute()
    assert list(got.index) == list(range(30_000)) + list(range(10_000))  # each partition's own index
    records = generate_local("shipments", ROWS, seed=5, progress=False).iloc[30_000:]
    expected = shipped_model.predict(records.reset_index(drop=True))
    assert_same_frame(got.reset_index(drop=True), expected)
    assert got["channel"].value_counts().to_dict() == expected["channel"].value_counts().to_dict()


def test_explained_scores_equal_predict_and_meta_is_predicts_dtypes(shipped_model):
    records = generate_local("shipments", 300, seed=8, progress=False)
    ddf = dd.from_pandas(records, npartitions=3, sort=False)
    scored = distributed.score("shipment", ddf, explain=True, top_k=2)
    expected = shipped_model.predict(records, explain=True, top_k=2)
    assert dict(scored.dtypes) == dict(expected.dtypes)
    assert dict(distributed.score_meta(explain=True).dtypes) == dict(expected.dtypes)
    assert_same_frame(scored.compute().reset_index(drop=True), expected)


def test_a_bad_partition_raises_predicts_schema_error_naming_the_partition(shipped_model):
    records = generate_local("shipments", 600, seed=9, progress=False)
    records.loc[450, "cif_value_usd"] = -3.0
    ddf = dd.from_pandas(records, npartitions=3, sort=False)  # rows 400..599 in partition 2
    with pytest.raises(SchemaError, match=r"partition 2: .*'cif_value_usd'"):
        distributed.score(shipped_model, ddf).compute()


def test_bad_options_are_refused_before_any_work(shipped_model):
    ddf = dd.from_pandas(generate_local("shipments", 100, seed=1, progress=False), npartitions=1)
    with pytest.raises(ParameterError, match="num_threads must be a whole number >= 1"):
        distributed.score(shipped_model, ddf, num_threads=0)
    with pytest.raises(ParameterError, match="top_k"):
        distributed.score(shipped_model, ddf, explain=True, top_k=0)
    with pytest.raises(ParameterError, match="n_workers must be a whole number >= 1"):
        distributed.client(n_workers=0)


def test_without_dask_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'riskscore\[scale\]'"):
        distributed.client()


def test_importing_riskscore_does_not_import_dask():
    import subprocess

    code = (
        "import sys, riskscore, riskscore.distributed; print(any(m.startswith('dask') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
