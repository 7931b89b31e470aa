"""The installed `riskscore` console script: train, score, the champion gate and input errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskscore.model import OUTPUT_COLUMNS
from riskscore.synthetic import generate_shipments

RISKSCORE = Path(sys.executable).parent / "riskscore"
ROWS = 40_000


def run(*args: str | os.PathLike[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(RISKSCORE), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """40,000 generated shipments as parquet and a model trained on them by the CLI."""
    assert RISKSCORE.exists(), f"console script not installed at {RISKSCORE}"
    root = tmp_path_factory.mktemp("cli_model")
    data = root / "x.parquet"
    generate_shipments(ROWS, seed=5).to_parquet(data)
    model = root / "m.rsk"
    proc = run("train", "--kind", "shipment", "--data", data, "--out", model, "--threads", "1")
    return root, data, model, proc


def test_train_writes_model_and_card(workdir):
    root, _, model, proc = workdir
    assert proc.returncode == 0, proc.stderr
    assert model.is_file() and model.stat().st_size > 0
    card = model.with_suffix(".md").read_text(encoding="utf-8")
    assert "Intended use" in card and "Limits" in card
    assert "wrote" in proc.stdout and str(model) in proc.stdout
    assert not list(root.glob(".*.part"))  # no temporary files left beside the outputs


def test_score_writes_one_prediction_per_record(workdir):
    root, data, model, _ = workdir
    out = root / "p.parquet"
    proc = run("score", "--model", model, "--data", data, "--out", out)
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_parquet(out)
    assert len(pred) == ROWS
    assert tuple(pred.columns) == OUTPUT_COLUMNS
    assert (
        pred["record_id"].tolist()
        == pd.read_parquet(data, columns=["declaration_id"])["declaration_id"].tolist()
    )
    assert set(pred["channel"].astype(str)) <= {"green", "yellow", "red"}


def test_champion_gate(workdir):
    root, data, model, _ = workdir
    champion = root / "champion.rsk"
    shutil.copyfile(model, champion)
    fresh = root / "challenger.rsk"
    # the same data and seed give the same model: it does not strictly beat the champion
    gated = run(
        "train",
        "--kind",
        "shipment",
        "--data",
        data,
        "--out",
        fresh,
        "--threads",
        "1",
        "--champion",
        champion,
    )
    assert gated.returncode == 3, gated.stderr
    # no difference at all, so the interval is [0, 0]: no win
    assert re.search(
        r"^riskscore: new (\d\.\d{3}) vs champion \1: \+0\.000 \(95% interval \+0\.000 to \+0\.000\): "
        r"within the noise; not replaced \(use --force\)$",
        gated.stderr,
        re.MULTILINE,
    ), gated.stderr
    assert f"riskscore: champion {champion}: hit rate at 5% on the latest window (IPW; " in gated.stderr
    assert not fresh.exists() and not fresh.with_suffix(".md").exists()
    forced = run(
        "train",
        "--kind",
        "shipment",
        "--data",
        data,
        "--out",
        fresh,
        "--threads",
        "1",
        "--champion",
        champion,
        "--force",
    )
    assert forced.returncode == 0, forced.stderr
    assert "within the noise; replaced anyway (--force)" in forced.stdout
    assert fresh.is_file() and fresh.with_suffix(".md").is_file()


def test_train_on_missing_data_exits_2(tmp_path):
    out = tmp_path / "m.rsk"
    proc = run("train", "--kind", "shipment", "--data", tmp_path / "missing.parquet", "--out", out)
    assert proc.returncode == 2
    assert "missing.parquet" in proc.stderr and "does not exist" in proc.stderr
    assert not out.exists()


def test_score_with_missing_model_exits_2(workdir, tmp_path):
    _, data, _, _ = workdir
    out = tmp_path / "p.parquet"
    proc = run("score", "--model", tmp_path / "nope.rsk", "--data", data, "--out", out)
    assert proc.returncode == 2
    assert proc.stderr.startswith("riskscore: error:")
    assert "nope.rsk" in proc.stderr and "does not exist" in proc.stderr
    assert not out.exists()
