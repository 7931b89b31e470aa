"""The installed ``riskscore`` console script, run in a subprocess as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import riskscore
from riskscore.cli import main
from riskscore.synthetic import generate_shipments


def _script() -> str:
    beside = Path(sys.executable).parent / "riskscore"
    if beside.is_file():
        return str(beside)
    found = shutil.which("riskscore")
    if found is None:
        pytest.fail("the riskscore console script is not installed (pip install -e .)")
    return found


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_generate_writes_the_requested_rows(tmp_path):
    out = tmp_path / "ships.parquet"
    done = run("generate", "shipments", "--rows", "2000", "--seed", "3", "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "wrote 2,000 shipments" in done.stdout
    frame = pd.read_parquet(out)
    assert len(frame) == 2000
    assert list(frame["declaration_id"]) == list(generate_shipments(2000, seed=3)["declaration_id"])
    assert os.listdir(tmp_path) == ["ships.parquet"]


def test_generate_passengers_to_csv_with_options(tmp_path):
    out = tmp_path / "trips.csv"
    done = run(
        "generate", "passengers", "--rows", "1500", "--seed", "2", "--out", str(out),
        "--start", "2026-03-01", "--days", "30", "--chunk-rows", "400", "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 1500
    when = pd.to_datetime(frame["crossed_at"])
    assert when.min() >= pd.Timestamp("2026-03-01")
    assert when.max() < pd.Timestamp("2026-03-31")


def test_zero_rows_is_a_usage_error(tmp_path):
    out = tmp_path / "x.parquet"
    done = run("generate", "shipments", "--rows", "0", "--out", str(out))
    assert done.returncode == 2
    assert "riskscore: error: n (number of rows) must be a whole number > 0; got 0" in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_unknown_scenario_is_a_usage_error(tmp_path):
    done = run(
        "generate", "shipments", "--rows", "100", "--scenario", "nope", "--out", str(tmp_path / "x.csv")
    )
    assert done.returncode == 2
    assert "unknown scenario 'nope'; available: default" in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_missing_output_folder_is_a_usage_error(tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "x.parquet"
    done = run("generate", "shipments", "--rows", "100", "--out", str(target))
    assert done.returncode == 2
    assert "does not exist; create it first" in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_literal_nonexistent_folder_creates_nothing():
    assert not Path("/nonexistent").exists()
    done = run("generate", "shipments", "--rows", "100", "--out", "/nonexistent/dir/x.parquet")
    assert done.returncode == 2
    assert "output folder '/nonexistent/dir' does not exist" in done.stderr
    assert not Path("/nonexistent").exists()


def test_bad_extension_is_a_usage_error(tmp_path):
    done = run("generate", "passengers", "--rows", "100", "--out", str(tmp_path / "x.xlsx"))
    assert done.returncode == 2
    assert "must end in .parquet or .csv; got '.xlsx'" in done.stderr
    assert os.listdir(tmp_path) == []


def test_python_dash_m_prints_the_version():
    done = subprocess.run(
        [sys.executable, "-m", "riskscore", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"riskscore {riskscore.__version__}"


def test_scenarios_lists_the_default():
    done = run("scenarios")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("default: ")


def test_demo_runs_end_to_end():
    done = run("demo")
    assert done.returncode == 0, done.stderr
    assert "=== shipments:" in done.stdout
    assert "=== passengers:" in done.stdout
    assert "oracle" in done.stdout


def test_main_returns_2_in_process(capsys):
    assert main(["generate", "shipments", "--rows", "-3", "--out", "x.parquet"]) == 2
    assert "n (number of rows) must be a whole number > 0; got -3" in capsys.readouterr().err


def test_argparse_rejects_a_missing_required_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "shipments", "--out", "x.parquet"])
    assert exc.value.code == 2
    assert "--rows" in capsys.readouterr().err
