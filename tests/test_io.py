"""Reading record tables in chunks (riskscore._io.iter_table): every row once, in order, only the columns asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskscore import SchemaError
from riskscore._io import iter_table


@pytest.fixture
def table() -> pd.DataFrame:
    n = 23_456
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "record_id": [f"R{i:06d}" for i in range(n)],
            "amount": rng.random(n),
            "importer": pd.Categorical(rng.integers(0, 5_000, n).astype(str)),
            "truth": rng.random(n) < 0.1,
        }
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("rows", [1_000, 7_777, 100_000])
def test_chunks_hold_every_row_once_in_order(tmp_path, table, suffix, rows):
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=5_000)
    else:
        table.to_csv(path, index=False)
    chunks = list(iter_table(path, rows))
    assert all(len(c) <= rows for c in chunks)
    got = pd.concat(chunks, ignore_index=True)
    assert got["record_id"].tolist() == table["record_id"].tolist()
    np.testing.assert_array_equal(got["amount"].to_numpy(), table["amount"].to_numpy())
    assert got["importer"].astype(str).tolist() == table["importer"].astype(str).tolist()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_only_the_asked_columns_are_read(tmp_path, table, suffix):
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
    else:
        table.to_csv(path, index=False)
    # a column the file lacks is skipped here; the spec check names it later if it is required
    chunks = list(iter_table(path, 10_000, columns=["amount", "record_id", "not_in_file"]))
    assert [list(c.columns) for c in chunks] == [["record_id", "amount"]] * len(chunks)
    assert sum(len(c) for c in chunks) == len(table)


def test_missing_file_and_wrong_kind_are_named(tmp_path):
    with pytest.raises(SchemaError, match="does not exist"):
        list(iter_table(tmp_path / "nope.parquet", 10))
    bad = tmp_path / "t.json"
    bad.write_text("{}")
    with pytest.raises(SchemaError, match=r"must be \.parquet or \.csv"):
        list(iter_table(bad, 10))
