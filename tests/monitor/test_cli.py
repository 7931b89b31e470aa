"""``riskscore monitor MODEL BATCH``: a thin command over riskscore.monitor, run in-process and installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from riskscore.cli import main
from riskscore.monitoring import monitor

ROOT = Path(__file__).resolve().parents[2]


def _no_constant(name: str) -> None:
    raise AssertionError(f"JSON holds {name}")


@pytest.fixture(scope="module")
def batch_file(shipments, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("monitor_cli") / "batch.parquet"
    shipments.window("validation").to_parquet(path)
    return path


def test_monitor_writes_json_and_html_and_prints_a_summary(
    shipments, shipment_model_file, batch_file, tmp_path, capsys
):
    out, page = tmp_path / "report.json", tmp_path / "report.html"
    code = main(
        ["monitor", str(shipment_model_file), str(batch_file), "--json", str(out), "--html", str(page)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(out.read_text(encoding="utf-8"), parse_constant=_no_constant)
    expected = monitor(shipments.model, shipments.window("validation"), num_threads=1).to_dict()
    assert doc["command"] == "monitor" and set(doc["timings"]) >= {"load", "read", "monitor", "total"}
    assert {k: v for k, v in doc.items() if k not in ("command", "timings")} == expected
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert captured.out.startswith("MonitorReport(")
    assert f"wrote {out}" in captured.out and f"wrote {page}" in captured.out


def test_json_to_stdout_leaves_stdout_to_the_json(shipment_model_file, batch_file, capsys):
    code = main(
        ["monitor", str(shipment_model_file), str(batch_file), "--json", "-", "--psi-bands", "0.2,0.5"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out, parse_constant=_no_constant)
    assert doc["bands"]["psi"] == [0.2, 0.5]
    assert "MonitorReport(" in captured.err


@pytest.mark.parametrize("bands", ["0.3,0.1", "0.1", "a,b", "0,0.2"])
def test_bad_psi_bands_are_a_usage_error(shipment_model_file, batch_file, bands, capsys):
    with pytest.raises(SystemExit) as info:
        main(["monitor", str(shipment_model_file), str(batch_file), "--psi-bands", bands])
    assert info.value.code == 2
    assert "--psi-bands: must be two increasing positive numbers" in capsys.readouterr().err


def test_an_older_model_file_exits_2_with_the_message(batch_file, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["monitor", str(ROOT / "tests/golden/shipment_v1.rsk"), str(batch_file), "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("riskscore: error: the model has no monitoring state") and "Retrain" in err
    assert not out.exists()


def test_a_bad_output_path_fails_before_any_work(shipment_model_file, batch_file, tmp_path, capsys):
    code = main(
        ["monitor", str(shipment_model_file), str(batch_file), "--html", str(tmp_path / "no" / "page.html")]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert f"output folder '{tmp_path / 'no'}' does not exist" in captured.err
    assert captured.out == ""  # refused before the batch was monitored


def _script() -> str:
    beside = Path(sys.executable).parent / "riskscore"
    found = str(beside) if beside.is_file() else shutil.which("riskscore")
    if found is None:
        pytest.fail("the riskscore console script is not installed (pip install -e .)")
    return found


def test_the_console_script_monitors_a_batch(shipment_model_file, batch_file):
    done = subprocess.run(
        [_script(), "monitor", str(shipment_model_file), str(batch_file), "--json", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout, parse_constant=_no_constant)
    assert doc["records"] > 1000 and doc["risk"]["status"] == "stable"
