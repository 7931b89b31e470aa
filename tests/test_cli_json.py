"""``--json`` on train, score and review: one JSON object on stdout with the run's figures, text on stderr.

And the champion gate's verdict with its interval, which --json reports too.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import riskscore
import riskscore.evaluate as ev
from riskscore.cli import main
from riskscore.synthetic import generate_shipments

RISKSCORE = Path(sys.executable).parent / "riskscore"
ROWS = 3000


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``main`` in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """3,000 generated shipments and a model trained on them by ``train --json`` (read-only)."""
    root = tmp_path_factory.mktemp("cli_json")
    data = root / "ships.parquet"
    generate_shipments(ROWS, seed=8).to_parquet(data)
    model = root / "model.rsk"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["train", "--data", str(data), "--out", str(model), "--threads", "1", "--json"])
    return {
        "root": root,
        "data": data,
        "model": model,
        "code": code,
        "out": out.getvalue(),
        "err": err.getvalue(),
    }


def test_train_json_reports_the_model_its_metrics_and_timings(trained):
    assert trained["code"] == 0, trained["err"]
    doc = json.loads(trained["out"])  # stdout holds the one JSON object and nothing else
    model = riskscore.load(trained["model"])
    assert doc["command"] == "train"
    assert doc["written"] is True
    assert doc["output"] == str(trained["model"])
    assert doc["model_card"] == str(trained["model"].with_suffix(".md"))
    assert doc["model_version"] == model.version
    records = doc["records"]
    assert records["read"] == ROWS
    assert records["train"] + records["validation"] + records["test"] == ROWS
    assert records["labelled_train"] == model.info["training_labelled_rows"]
    assert doc["metrics"] == model.info["metrics"]
    assert doc["metrics"]["records"] == records["test"]
    observed = {(r["scorer"], r["rate"]): r["ipw_hit_rate"] for r in doc["evaluation"]["observed"]}
    assert {s for s, _ in observed} >= {"model", "random", "logistic"}
    for row in doc["metrics"]["observed"]:
        if row["precision"] is not None:
            assert row["precision"] == pytest.approx(observed["model", row["rate"]], abs=1e-6)
    assert doc["champion"] is None
    assert set(doc["timings"]) == {"read", "train", "evaluate", "write", "total"}
    assert all(v >= 0 for v in doc["timings"].values())
    # the text for people went to stderr
    assert "selection quality on the truth" in trained["err"]
    assert f"wrote {trained['model']}" in trained["err"]


def test_score_json_counts_the_batch_over_chunks(trained, tmp_path, capsys):
    out = tmp_path / "scored.parquet"
    code, stdout, stderr = cli(
        capsys, "score", "--model", trained["model"], "--data", trained["data"], "--out", out,
        "--chunk-rows", "700", "--json", "--no-progress",
    )  # fmt: skip
    assert code == 0, stderr
    doc = json.loads(stdout)
    pred = pd.read_parquet(out)
    model = riskscore.load(trained["model"])
    assert doc["command"] == "score"
    assert doc["records"] == len(pred) == ROWS
    assert doc["channels"] == {c: int((pred["channel"] == c).sum()) for c in ("green", "yellow", "red")}
    assert doc["selection_reasons"] == pred["selection_reason"].value_counts().to_dict()
    # five chunks of 700 and one of 200, weighted by size: the share of the whole batch
    whole = model.predict(pd.read_parquet(trained["data"])).attrs["unseen_history"]
    assert doc["unseen_history"] == pytest.approx(whole)
    assert doc["model_version"] == model.version
    assert doc["output"] == str(out)
    assert set(doc["timings"]) == {"load", "read", "score", "write", "total"}
    assert f"scored {ROWS:,} records" in stderr
    assert "channels: green " in stderr


def test_score_prints_channel_counts_and_unseen_history_for_people(trained, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    code, stdout, _ = cli(
        capsys, "score", "--model", trained["model"], "--data", trained["data"], "--out", out, "--no-progress"
    )
    assert code == 0
    pred = pd.read_csv(out)
    unseen = (
        riskscore.load(trained["model"]).predict(pd.read_parquet(trained["data"])).attrs["unseen_history"]
    )
    counts = pred["channel"].value_counts()
    lines = stdout.splitlines()
    assert lines[0].startswith(f"scored {ROWS:,} records with ")
    assert lines[1] == "channels: " + ", ".join(
        f"{c} {counts.get(c, 0):,} ({counts.get(c, 0) / ROWS:.1%})" for c in ("green", "yellow", "red")
    )
    assert lines[2].startswith("selection reasons: ")
    assert lines[3] == "no earlier history: " + ", ".join(f"{k} {v:.1%}" for k, v in unseen.items())
    assert lines[3].startswith("no earlier history: importer ")


def test_review_json_says_what_it_wrote(trained, tmp_path, capsys):
    folder = tmp_path / "review"
    code, stdout, stderr = cli(
        capsys, "review", "--model", trained["model"], "--data", trained["data"], "--out", folder,
        "--max-cases", "5", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    doc = json.loads(stdout)
    flagged = pd.read_csv(folder / "flagged.csv")
    assert doc["command"] == "review"
    assert doc["records"] == ROWS
    assert doc["flagged"] == len(flagged)
    assert 0 < doc["shown"] <= doc["flagged"]
    more = doc["flagged"] - doc["shown"]
    note = f" ({more:,} more in flagged.csv)" if more else ""
    assert (
        f"review of {ROWS:,} records: {doc['flagged']:,} flagged, {doc['shown']:,} shown{note} -> " in stderr
    )
    assert doc["path"] == str(folder / "index.html") and Path(doc["path"]).is_file()
    assert doc["flagged_csv"] == str(folder / "flagged.csv")
    assert set(doc["timings"]) == {"load", "read", "review", "total"}


def test_the_champion_gate_states_its_margin_and_refuses_a_tie(trained, tmp_path, capsys):
    out = tmp_path / "new.rsk"
    code, stdout, stderr = cli(
        capsys, "train", "--data", trained["data"], "--out", out, "--threads", "1",
        "--champion", trained["model"], "--json",
    )  # fmt: skip
    assert code == 3
    # the same data and seed give the same model: no difference at all, so no win
    assert re.search(
        r"^riskscore: new (\d\.\d{3}) vs champion \1: \+0\.000 \(95% interval \+0\.000 to \+0\.000\): "
        r"within the noise; not replaced \(use --force\)$",
        stderr,
        re.MULTILINE,
    ), stderr
    assert f"riskscore: champion {trained['model']}: hit rate at 5% on the latest window" in stderr
    doc = json.loads(stdout)
    assert doc["written"] is False and doc["output"] is None
    champion = doc["champion"]
    assert champion["verdict"] == "within noise"
    assert champion["difference"] == 0.0 and champion["interval"] == [0.0, 0.0]
    assert champion["path"] == str(trained["model"]) and champion["forced"] is False
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_win_outside_the_noise_replaces_the_champion(trained, tmp_path, capsys, monkeypatch):
    win = ev.Comparison(0.05, 0.412, 0.298, 0.114, 0.046, 0.181, "better", 450, 99, 1000, 0)
    monkeypatch.setattr(ev, "compare_models", lambda *a, **k: win)
    out = tmp_path / "new.rsk"
    code, stdout, stderr = cli(
        capsys, "train", "--data", trained["data"], "--out", out, "--threads", "1",
        "--champion", trained["model"],
    )  # fmt: skip
    assert code == 0, stderr
    assert (
        "new 0.412 vs champion 0.298: +0.114 (95% interval +0.046 to +0.181): better than the champion; replaced"
    ) in stdout
    assert out.is_file() and out.with_suffix(".md").is_file()


@pytest.mark.parametrize("verdict", ["within noise", "worse"])
def test_force_replaces_a_champion_the_new_model_does_not_beat(
    trained, tmp_path, capsys, monkeypatch, verdict
):
    high = 0.02 if verdict == "within noise" else -0.01
    loss = ev.Comparison(0.05, 0.398, 0.412, -0.014, -0.05, high, verdict, 450, 99, 1000, 0)  # type: ignore[arg-type]
    monkeypatch.setattr(ev, "compare_models", lambda *a, **k: loss)
    out = tmp_path / "new.rsk"
    argv = [
        "train",
        "--data",
        trained["data"],
        "--out",
        out,
        "--threads",
        "1",
        "--champion",
        trained["model"],
    ]
    code, _, stderr = cli(capsys, *argv)
    text = "within the noise" if verdict == "within noise" else "worse than the champion"
    assert code == 3
    assert stderr.endswith(f"): {text}; not replaced (use --force)\n")
    assert not out.exists()
    code, stdout, _ = cli(capsys, *argv, "--force", "--json")
    assert code == 0
    doc = json.loads(stdout)
    assert (
        doc["written"] is True and doc["champion"]["forced"] is True and doc["champion"]["verdict"] == verdict
    )
    assert out.is_file()


def test_the_console_script_prints_json_alone_and_nothing_else_when_quiet(trained, tmp_path):
    out = tmp_path / "scored.parquet"
    done = subprocess.run(
        [str(RISKSCORE), "score", "--model", str(trained["model"]), "--data", str(trained["data"]),
         "--out", str(out), "--json", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    assert doc["records"] == ROWS and doc["output"] == str(out)
    assert sum(doc["channels"].values()) == ROWS
