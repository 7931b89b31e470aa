"""The command line under hostile input: bad paths and values, spreadsheet payloads, empty batches, kills.

Every bad input ends with exit code 2 and a one-paragraph message naming the option or file and the fix,
never a traceback; CSV meant for people cannot run formulas; an empty batch gives a readable empty file;
an interrupted write leaves no temporary file behind (or, after SIGKILL, the next write removes it).
"""

from __future__ import annotations

import csv
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import riskscore
from riskscore.cli import main
from riskscore.model import OUTPUT_COLUMNS, RiskModel
from riskscore.synthetic import generate_shipments

RISKSCORE = Path(sys.executable).parent / "riskscore"


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``main`` in-process: (exit code, stdout, stderr); argparse's own exits count as codes."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.part"))


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    """600 generated shipments (read-only)."""
    return generate_shipments(600, seed=4)


@pytest.fixture
def files(tmp_path: Path, batch: pd.DataFrame) -> Path:
    """A folder of good and bad inputs and outputs."""
    batch.to_parquet(tmp_path / "batch.parquet")
    batch.to_csv(tmp_path / "batch.csv", index=False)
    (tmp_path / "folder.parquet").mkdir()
    (tmp_path / "model.rsk").mkdir()
    (tmp_path / "scenario.toml").mkdir()
    (tmp_path / "existing.txt").write_text("not a folder\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    whole = (tmp_path / "batch.parquet").read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "utf16.csv").write_bytes(
        (tmp_path / "batch.csv").read_text(encoding="utf-8").encode("utf-16")
    )
    return tmp_path


def _gen(*extra: str) -> list[str]:
    return ["generate", "shipments", "--rows", "50", "--out", "{d}/out.parquet", "--no-progress", *extra]


def _score(data: str = "{d}/batch.parquet", out: str = "{d}/scored.parquet", *extra: str) -> list[str]:
    return ["score", "--model", "shipment", "--data", data, "--out", out, "--no-progress", *extra]


def _review(data: str = "{d}/batch.parquet", out: str = "{d}/report", *extra: str) -> list[str]:
    return ["review", "--model", "shipment", "--data", data, "--out", out, *extra]


# (command line, what the message must name); {d} is the folder of the `files` fixture
BAD_INPUT = {
    "generate --out an existing folder": (
        ["generate", "shipments", "--rows", "50", "--out", "{d}/folder.parquet"],
        ["folder.parquet", "is an existing folder, not a file; give the path of a file"],
    ),
    "generate --scenario a folder": (
        _gen("--scenario", "{d}/scenario.toml"),
        ["--scenario", "scenario.toml", "is a folder; give a scenario name"],
    ),
    "generate --rows 0": (
        ["generate", "shipments", "--rows", "0", "--out", "{d}/out.parquet"],
        ["--rows", "must be a whole number >= 1", "'0'"],
    ),
    "generate --rows -3": (
        ["generate", "shipments", "--rows", "-3", "--out", "{d}/out.parquet"],
        ["--rows", "must be a whole number >= 1"],
    ),
    "generate --chunk-rows 0": (_gen("--chunk-rows", "0"), ["--chunk-rows", "must be a whole number >= 1"]),
    "generate --days 0": (_gen("--days", "0"), ["--days", "must be a whole number >= 1"]),
    "generate --seed -1": (_gen("--seed", "-1"), ["--seed", "must be a whole number >= 0"]),
    "generate --start not a date": (_gen("--start", "2025-13-01"), ["--start", "YYYY-MM-DD", "2025-13-01"]),
    "score --data a folder": (_score("{d}/folder.parquet"), ["folder.parquet", "is a folder, not a file"]),
    "score --data an empty CSV": (_score("{d}/empty.csv"), ["empty.csv", "is empty", "header row"]),
    "score --data a truncated parquet": (
        _score("{d}/truncated.parquet"),
        ["truncated.parquet", "not a readable parquet file", "write it again"],
    ),
    "score --data a UTF-16 CSV": (_score("{d}/utf16.csv"), ["utf16.csv", "not UTF-8", "save it as UTF-8"]),
    "score --chunk-rows 0": (
        _score("{d}/batch.parquet", "{d}/s.parquet", "--chunk-rows", "0"),
        ["--chunk-rows"],
    ),
    "score --chunk-rows -1": (_score("{d}/batch.csv", "{d}/s.csv", "--chunk-rows", "-1"), ["--chunk-rows"]),
    "score --out an existing folder": (
        _score(out="{d}/folder.parquet"),
        ["folder.parquet", "existing folder"],
    ),
    "score --out under /proc": (
        _score(out="/proc/scored.parquet"),
        ["/proc", "choose a folder you can write"],
    ),
    "review --out an existing file": (
        _review(out="{d}/existing.txt"),
        ["existing.txt", "is an existing file"],
    ),
    "review --out under /proc": (
        _review(out="/proc/riskscore-report"),
        ["/proc/riskscore-report", "write to"],
    ),
    "review --max-cases -1": (
        _review("{d}/batch.parquet", "{d}/report", "--max-cases", "-1"),
        ["--max-cases"],
    ),
    "review --data an empty CSV": (_review("{d}/empty.csv"), ["empty.csv", "is empty"]),
    "review --data a folder": (_review("{d}/folder.parquet"), ["folder.parquet", "is a folder"]),
    "train --data a UTF-16 CSV": (
        ["train", "--kind", "shipment", "--data", "{d}/utf16.csv", "--out", "{d}/m.rsk", "--threads", "1"],
        ["utf16.csv", "not UTF-8"],
    ),
    "train --out an existing folder": (
        ["train", "--data", "{d}/batch.parquet", "--out", "{d}/model.rsk", "--threads", "1"],
        ["model.rsk", "is an existing folder, not a file"],
    ),
    "build-models --out an existing file": (
        ["build-models", "--out", "{d}/existing.txt"],
        ["existing.txt", "is an existing file, not a folder"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_exits_2_with_a_message_naming_the_option_or_file(files, capsys, case):
    argv, expected = BAD_INPUT[case]
    if any("/proc" in a for a in argv) and not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    before = sorted(os.listdir(files))
    code, _, err = cli(capsys, *(a.replace("{d}", str(files)) for a in argv))
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(("riskscore: error: ", "usage: riskscore")), err
    for words in expected:
        assert words in err, err
    assert sorted(os.listdir(files)) == before  # nothing written, no temporary left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_exits_2(files, capsys):
    locked = files / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = cli(capsys, *_score(str(files / "batch.parquet"), str(locked / "s.parquet")))
    finally:
        locked.chmod(0o755)
    assert code == 2
    assert "locked" in err and "not writable" in err
    assert os.listdir(locked) == []


def test_bad_input_in_a_real_process_prints_one_message_and_no_traceback(files):
    done = subprocess.run(
        [str(RISKSCORE), *_score(str(files / "truncated.parquet"), str(files / "s.parquet"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "truncated.parquet" in done.stderr


# ------------------------------------------------------------------------------ spreadsheet payloads

PAYLOADS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x", "D1\r\nD2"]
NEUTRALISED = {"'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\t=x", "'\r=x", "D1\r\nD2"}


@pytest.fixture(scope="module")
def shipped() -> RiskModel:
    return riskscore.load("shipment")


def with_payload_ids(model: RiskModel, batch: pd.DataFrame) -> pd.DataFrame:
    """The batch with the payloads as ids of flagged records (an id is not a model input)."""
    frame = batch.copy()
    pred = model.predict(frame)
    flagged = pred.index[pred["channel"].isin(["yellow", "red"])][: len(PAYLOADS)]
    assert len(flagged) == len(PAYLOADS)
    ids = frame["declaration_id"].astype(object)
    ids.iloc[flagged] = PAYLOADS
    frame["declaration_id"] = ids
    return frame


def read_csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_flagged_csv_neutralises_formulas(shipped, batch, tmp_path, capsys):
    data = tmp_path / "batch.parquet"
    with_payload_ids(shipped, batch).to_parquet(data)
    code, out, err = cli(capsys, *_review(str(data), str(tmp_path / "report"), "--max-cases", "3"))
    assert code == 0, err
    flagged_csv = tmp_path / "report" / "flagged.csv"
    rows = read_csv_rows(flagged_csv)
    flagged = int(out.split(" flagged")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert len(rows) == 1 + flagged  # the id holding CR LF stays in its row
    header = rows[0]
    ids = [r[header.index("record_id")] for r in rows[1:]]
    assert NEUTRALISED <= set(ids)
    assert not any(i.startswith(("=", "+", "-", "@", "\t", "\r")) for i in ids)
    assert all(float(r[header.index("risk_score")]) > 0 for r in rows[1:])  # numbers, not text
    assert flagged_csv.read_text(encoding="utf-8").startswith('"record_id","channel","risk_score"')


def test_score_csv_neutralises_formulas(shipped, batch, tmp_path, capsys):
    data = tmp_path / "batch.parquet"
    with_payload_ids(shipped, batch).to_parquet(data)
    out = tmp_path / "scored.csv"
    code, _, err = cli(capsys, *_score(str(data), str(out), "--chunk-rows", "100"))
    assert code == 0, err
    rows = read_csv_rows(out)
    assert rows[0] == list(OUTPUT_COLUMNS)
    assert len(rows) == 1 + len(batch)
    ids = [r[0] for r in rows[1:]]
    assert NEUTRALISED <= set(ids)
    assert not any(i.startswith(("=", "+", "-", "@", "\t", "\r")) for i in ids)
    assert pd.read_csv(out)["risk_score"].dtype == "float64"


# ------------------------------------------------------------------------------------- empty batches


@pytest.mark.parametrize("source", ["parquet", "csv-header-only"])
def test_an_empty_batch_gives_an_empty_parquet_with_the_output_schema(
    shipped, batch, tmp_path, capsys, source
):
    data = tmp_path / ("empty.parquet" if source == "parquet" else "empty.csv")
    if source == "parquet":
        batch.iloc[:0].to_parquet(data)
    else:
        batch.iloc[:0].to_csv(data, index=False)
    out = tmp_path / "scored.parquet"
    code, stdout, err = cli(capsys, *_score(str(data), str(out)))
    assert code == 0, err
    assert "scored 0 records" in stdout
    table = pq.read_table(out)  # a 0-byte file raised here
    assert table.num_rows == 0
    got = table.to_pandas()
    assert tuple(got.columns) == OUTPUT_COLUMNS
    expected = shipped.predict(batch.iloc[:5])
    assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()


def test_an_empty_batch_gives_a_csv_with_the_header(batch, tmp_path, capsys):
    data = tmp_path / "empty.parquet"
    batch.iloc[:0].to_parquet(data)
    out = tmp_path / "scored.csv"
    code, _, err = cli(capsys, *_score(str(data), str(out)))
    assert code == 0, err
    assert read_csv_rows(out) == [list(OUTPUT_COLUMNS)]
    assert list(pd.read_csv(out).columns) == list(OUTPUT_COLUMNS)


# ---------------------------------------------------------------------------------------- interrupts


class SigtermReachedTheTest(Exception):
    """SIGTERM got past main(): without its handler the test process itself would have been killed."""


@pytest.fixture
def sigterm_guard() -> Iterator[Callable[..., None]]:
    """A SIGTERM handler for the test itself, in place while main() runs and restored afterwards."""

    def guard(signum: int, frame: object) -> None:
        raise SigtermReachedTheTest("main() did not handle SIGTERM")

    previous = signal.signal(signal.SIGTERM, guard)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate_on_call(n: int, call: Callable[..., object]) -> Callable[..., object]:
    """Wrap ``call`` so that its n-th call sends this process SIGTERM once it has returned."""
    calls = {"n": 0}

    def wrapped(*args: object, **kwargs: object) -> object:
        result = call(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == n:
            signal.raise_signal(signal.SIGTERM)
        return result

    return wrapped


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_sigterm_while_scoring_removes_the_temporary_and_exits_143(
    batch, tmp_path, capsys, monkeypatch, sigterm_guard, suffix
):
    data = tmp_path / "batch.parquet"
    batch.to_parquet(data)
    monkeypatch.setattr(RiskModel, "predict", _terminate_on_call(2, RiskModel.predict))
    out = tmp_path / f"scored{suffix}"
    code, _, err = cli(capsys, *_score(str(data), str(out), "--chunk-rows", "100"))
    assert code == 143
    assert err == "riskscore: terminated (SIGTERM); nothing was left half-written\n"
    assert os.listdir(tmp_path) == ["batch.parquet"]
    assert signal.getsignal(signal.SIGTERM) is sigterm_guard  # the previous handler is back


def test_sigterm_while_generating_removes_the_temporary_and_exits_143(
    tmp_path, capsys, monkeypatch, sigterm_guard
):
    gen = importlib.import_module("riskscore.synthetic.generate")  # the package re-exports generate()
    original = gen.iter_records

    def chunks_then_sigterm(*args: object, **kwargs: object) -> Iterator[pd.DataFrame]:
        for i, chunk in enumerate(original(*args, **kwargs)):  # type: ignore[arg-type]
            if i == 2:
                signal.raise_signal(signal.SIGTERM)
            yield chunk

    monkeypatch.setattr(gen, "iter_records", chunks_then_sigterm)
    out = tmp_path / "records.csv"
    code, _, err = cli(
        capsys, *_gen("--chunk-rows", "10")[:5], str(out), "--chunk-rows", "10", "--no-progress"
    )
    assert code == 143
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is sigterm_guard


def _start_big_generate(out: Path) -> subprocess.Popen[str]:
    """A console-script run writing far more rows than the test waits for (it is killed long before)."""
    return subprocess.Popen(
        [str(RISKSCORE), "generate", "shipments", "--rows", "5000000", "--chunk-rows", "20000", "--out", str(out),
         "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def _wait_for_data_in_part(proc: subprocess.Popen[str], folder: Path) -> Path:
    """Wait until the writer has put data in its temporary file (polling, not a timing assertion)."""
    for _ in range(1200):
        parts = [p for p in folder.glob(".*.part") if p.stat().st_size > 0]
        if parts:
            return parts[0]
        if proc.poll() is not None:
            pytest.fail(
                f"the writer ended first: {proc.returncode} {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the writer never wrote to its temporary file")


def test_sigkill_leaves_a_part_that_the_next_write_removes(tmp_path, capsys):
    out = tmp_path / "big.parquet"
    proc = _start_big_generate(out)
    part = _wait_for_data_in_part(proc, tmp_path)
    proc.kill()  # SIGKILL: no handler runs
    proc.communicate(timeout=60)
    assert part.exists()
    assert part.name.startswith(f".big.parquet.{proc.pid}.")
    # a temporary of a live writer (this process) must survive the clean-up
    live = tmp_path / f".big.parquet.{os.getpid()}.livewrtr.part"
    live.write_bytes(b"being written")
    code, _, err = cli(capsys, "generate", "shipments", "--rows", "100", "--out", out, "--no-progress")
    assert code == 0, err
    assert not part.exists()
    assert live.exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["big.parquet", live.name])
    assert len(pd.read_parquet(out)) == 100


def test_sigterm_in_a_real_process_leaves_nothing_and_exits_143(tmp_path):
    out = tmp_path / "big.parquet"
    proc = _start_big_generate(out)
    _wait_for_data_in_part(proc, tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert stderr == "riskscore: terminated (SIGTERM); nothing was left half-written\n"
    assert os.listdir(tmp_path) == []
