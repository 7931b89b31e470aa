"""``--scheduler`` on the command line: generate, score, train and review on a Dask cluster."""

from __future__ import annotations

import json

import pandas as pd

import riskscore
from riskscore.cli import main
from riskscore.synthetic import generate


def _address(client) -> str:
    return client.scheduler.address


def test_generate_and_score_on_the_cluster(client, tmp_path, capsys):
    data = tmp_path / "batch"
    argv = ["generate", "shipments", "--rows", "20000", "--seed", "3", "--chunk-rows", "8000"]
    assert main([*argv, "--out", str(data), "--scheduler", _address(client)]) == 0
    files = sorted(data.glob("*.parquet"))
    assert len(files) == 3
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    expected = generate("shipments", 20_000, seed=3)
    assert frame["declaration_id"].tolist() == expected["declaration_id"].tolist()
    capsys.readouterr()

    out = tmp_path / "scored"
    argv = ["score", "--model", "shipment", "--data", str(data), "--out", str(out), "--json"]
    assert main([*argv, "--scheduler", _address(client)]) == 0
    summary = json.loads(capsys.readouterr().out)
    local = riskscore.load("shipment").predict(expected)
    assert summary["channels"] == {k: int(v) for k, v in local["channel"].value_counts().items()}
    scored = pd.concat([pd.read_parquet(f) for f in sorted(out.glob("*.parquet"))], ignore_index=True)
    assert scored["risk_score"].to_numpy().tobytes() == local["risk_score"].to_numpy().tobytes()
    # an existing output folder with files in it is refused, as on one machine a bad output is
    assert main([*argv, "--scheduler", _address(client)]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_train_on_the_cluster_writes_the_model_and_its_card(client, shipments_dir, tmp_path, capsys):
    out = tmp_path / "model.rsk"
    argv = ["train", "--spec", "shipment", "--data", str(shipments_dir), "--out", str(out), "--json"]
    assert main([*argv, "--scheduler", _address(client)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] and summary["distributed"]
    assert out.with_suffix(".md").exists()
    assert riskscore.load(out).version == summary["model_version"]
    assert main([*argv, "--champion", str(out), "--scheduler", _address(client)]) == 2
    assert "--champion, --by and --label truth are for one machine" in capsys.readouterr().err


def test_review_on_the_cluster_writes_the_page_and_the_flagged_list(client, shipments_dir, tmp_path, capsys):
    import shutil

    data = tmp_path / "batch"
    data.mkdir()
    shutil.copy(sorted(shipments_dir.glob("*.parquet"))[-1], data)  # the last 10,000 records
    out = tmp_path / "review"
    argv = ["review", "--model", "shipment", "--data", str(data), "--out", str(out), "--json"]
    assert main([*argv, "--max-cases", "20", "--scheduler", _address(client)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 10_000 and summary["flagged"] > 0
    flagged = pd.read_csv(out / "flagged.csv")
    assert len(flagged) == summary["flagged"] and flagged["reason_codes"].notna().any()
    assert (out / "index.html").read_text().count('class="case"') >= 1
