"""File helpers (riskscore._io): reading record tables by their spec, in chunks; temporary files; safe CSV."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riskscore
from riskscore import OutputError, ParameterError, SchemaError
from riskscore._io import (
    check_output,
    check_output_folder,
    iter_table,
    read_records,
    read_table,
    safe_csv,
    temp_beside,
)
from riskscore.spec import load_spec
from riskscore.synthetic import generate, write_records
from riskscore.validation import validate_frame


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


def test_a_file_without_rows_still_gives_its_columns(tmp_path, table):
    pq_path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(table.iloc[:0], preserve_index=False), pq_path)
    csv_path = tmp_path / "t.csv"
    table.iloc[:0].to_csv(csv_path, index=False)
    for path in (pq_path, csv_path):
        chunks = list(iter_table(path, 100, columns=["record_id", "amount"]))
        assert [(len(c), list(c.columns)) for c in chunks] == [(0, ["record_id", "amount"])]


def test_a_chunk_size_below_one_is_refused(tmp_path, table):
    path = tmp_path / "t.csv"
    table.iloc[:5].to_csv(path, index=False)
    with pytest.raises(ParameterError, match=r"rows \(the chunk size\) must be a whole number >= 1; got 0"):
        list(iter_table(path, 0))


# ------------------------------------------------------------------------------ reading by the spec

CODES_CSV = (
    "declaration_id,declared_at,hs_code,origin_country,goods_description,quantity,aeo\n"
    "0001,2025-03-04T05:06:07,080510,NA,,NA,True\n"
    "0002,2025-03-04 05:06:08,090111,VN,null,2.5,False\n"
    "0003,2025-03-04T05:06:09,010121,CN,None,,True\n"
)


@pytest.mark.parametrize("reader", ["read_records", "read_table", "iter_table"])
def test_text_columns_of_the_spec_are_read_as_written(tmp_path, reader):
    path = tmp_path / "codes.csv"
    path.write_text(CODES_CSV, encoding="utf-8")
    spec = load_spec("shipment")
    if reader == "read_records":
        frame = riskscore.read_records(path, "shipment")
    elif reader == "read_table":
        frame = read_table(path, spec=spec)
    else:
        frame = pd.concat(list(iter_table(path, 2, spec=spec)), ignore_index=True)
    # codes keep their leading zeros; dates reach the spec's parser as written
    assert frame["declaration_id"].tolist() == ["0001", "0002", "0003"]
    assert frame["hs_code"].tolist() == ["080510", "090111", "010121"]
    assert frame["declared_at"].tolist() == [
        "2025-03-04T05:06:07",
        "2025-03-04 05:06:08",
        "2025-03-04T05:06:09",
    ]
    # in a text column only an empty cell is missing: NA is Namibia, "null" and "None" are text
    assert frame["origin_country"].tolist() == ["NA", "VN", "CN"]
    assert frame["goods_description"].isna().tolist() == [True, False, False]
    assert frame["goods_description"].iloc[1:].tolist() == ["null", "None"]
    # numbers and flags are left to pandas and to the spec's coercion: NA and empty are missing there
    assert frame["quantity"].dtype == "float64"
    assert frame["quantity"].isna().tolist() == [True, False, True]
    assert frame["aeo"].tolist() == [True, False, True]


def test_read_records_reads_only_the_asked_columns(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text(CODES_CSV, encoding="utf-8")
    frame = riskscore.read_records(path, "shipment", columns=["hs_code", "quantity", "not_in_file"])
    assert list(frame.columns) == ["hs_code", "quantity"]
    assert frame["hs_code"].tolist() == ["080510", "090111", "010121"]


@pytest.mark.parametrize(("kind", "spec"), [("shipments", "shipment"), ("passengers", "passenger")])
def test_generated_csv_round_trips_through_read_records(tmp_path, kind, spec):
    path = write_records(kind, 3000, tmp_path / "records.csv", seed=9, progress=False)
    read_back = validate_frame(riskscore.read_records(path, spec), spec, columns="all")
    pd.testing.assert_frame_equal(
        read_back, validate_frame(generate(kind, 3000, seed=9), spec, columns="all")
    )


def test_read_records_is_a_public_name():
    assert "read_records" in riskscore.__all__
    assert riskscore.read_records is read_records


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"data file '.*empty\.csv' is empty; a CSV needs at least a header row"),
        ("a,b\n1,2\n".encode("utf-16"), r"data file '.*empty\.csv' is not UTF-8 text .* save it as UTF-8"),
    ],
    ids=["zero-bytes", "utf-16"],
)
def test_unreadable_csv_is_named(tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(SchemaError, match=message):
        read_table(path, spec=load_spec("shipment"))
    with pytest.raises(SchemaError, match=message):
        list(iter_table(path, 10))


def test_truncated_parquet_and_folders_are_named(tmp_path, table):
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), whole)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[:2000])
    with pytest.raises(
        SchemaError, match=r"'.*cut\.parquet' is not a readable parquet file .* write it again"
    ):
        read_table(cut)
    with pytest.raises(SchemaError, match=r"'.*cut\.parquet' is not a readable parquet file"):
        list(iter_table(cut, 10))
    folder = tmp_path / "folder.parquet"
    folder.mkdir()
    with pytest.raises(SchemaError, match=r"'.*folder\.parquet' is a folder, not a file"):
        read_table(folder)


# ------------------------------------------------------------------------------- output paths


def test_an_output_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / "out.parquet").mkdir()
    with pytest.raises(OutputError, match=r"'.*out\.parquet' is an existing folder, not a file"):
        check_output(tmp_path / "out.parquet", (".parquet",))
    (tmp_path / "report").write_text("x")
    with pytest.raises(OutputError, match=r"'.*report' is an existing file, not a folder"):
        check_output_folder(tmp_path / "report", create=True)
    with pytest.raises(OutputError, match=r"'.*nope' does not exist; create it first"):
        check_output_folder(tmp_path / "nope" / "report", create=True)
    assert check_output_folder(tmp_path / "new", create=True) == tmp_path / "new"


# ------------------------------------------------------------------------------ temporary files


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_names_carry_the_writers_pid(tmp_path):
    tmp = temp_beside(tmp_path / "out.parquet")
    assert tmp.parent == tmp_path
    assert re.fullmatch(rf"\.out\.parquet\.{os.getpid()}\.[A-Za-z0-9_]+\.part", tmp.name)


def test_stale_temporaries_of_the_same_target_are_removed(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".out.parquet.{dead}.abcd1234.part"
    live = tmp_path / f".out.parquet.{os.getpid()}.abcd1234.part"  # a writer still running: this process
    other_target = tmp_path / f".other.parquet.{dead}.abcd1234.part"
    no_pid = tmp_path / ".out.parquet.abcd1234.part"  # an older naming: its writer is unknown
    for path in (stale, live, other_target, no_pid):
        path.write_bytes(b"half")
    tmp = temp_beside(tmp_path / "out.parquet")
    assert not stale.exists()
    assert live.exists() and other_target.exists() and no_pid.exists()
    assert tmp.exists() and tmp != live


def test_a_folder_that_refuses_files_is_an_output_error(tmp_path):
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    with pytest.raises(OutputError, match=r"cannot write '/proc/x\.csv'.*choose a folder you can write to"):
        temp_beside(Path("/proc/x.csv"))


# -------------------------------------------------------------------------- CSV opened by people

PAYLOADS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x", "id\r\nwith a break", "plain", "'=quoted"]


def test_safe_csv_neutralises_formulas_and_keeps_rows_and_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "record_id": pd.Series(PAYLOADS, dtype="str"),
            "channel": pd.Categorical(["=red"] + ["green"] * (len(PAYLOADS) - 1)),
            "risk_score": [-0.5, 1e-7, 0.25, -2.0, 0.0, 1.0, 3.5, -1.25, 0.5],
            "count": list(range(-4, len(PAYLOADS) - 4)),
        }
    )
    path = safe_csv(frame, tmp_path / "flagged.csv")
    assert os.listdir(tmp_path) == ["flagged.csv"]
    raw = path.read_bytes().decode("utf-8")
    assert raw.startswith('"record_id","channel","risk_score","count"\r\n')  # every field quoted
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 1 + len(PAYLOADS)  # the embedded line break stays inside its row
    assert [r[0] for r in rows[1:]] == [
        "'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\t=x", "'\r=x", "id\r\nwith a break", "plain", "'=quoted",
    ]  # fmt: skip
    assert rows[1][1] == "'=red"
    # numbers are numbers: a negative score is not prefixed
    assert [float(r[2]) for r in rows[1:]] == frame["risk_score"].tolist()
    assert [int(r[3]) for r in rows[1:]] == frame["count"].tolist()
    back = pd.read_csv(path)
    assert back["risk_score"].dtype == "float64" and back["count"].dtype == "int64"
    assert len(back) == len(PAYLOADS)
