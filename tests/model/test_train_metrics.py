"""train() keeps its held-out evaluation in the model (info["metrics"], the manifest) and shows its steps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore.exceptions import ParameterError
from riskscore.model import ChannelModel
from riskscore.synthetic import generate_shipments
from riskscore.training import TrainResult, train

ROWS = 20_000


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return generate_shipments(ROWS, seed=21)


@pytest.fixture(scope="module")
def result(data: pd.DataFrame) -> TrainResult:
    return train(data, kind="shipment", estimator=ChannelModel(n_estimators=60), num_threads=1)


def test_the_metrics_are_the_latest_window_evaluation(result):
    metrics = result.model.info["metrics"]
    test = result.test
    assert metrics["window"] == "latest"
    assert metrics["records"] == len(test)
    assert metrics["inspected"] == int(test["inspected"].sum())
    assert metrics["found"] == int((test["inspected"] & test["observed_label"].fillna(False)).sum())
    assert metrics["period"] == [str(test["declared_at"].min()), str(test["declared_at"].max())]
    report = result.report()
    observed = report["observed"].query("scorer == 'model'").set_index("rate")
    truth = report["truth"].query("scorer == 'model'").set_index("rate")
    assert [row["rate"] for row in metrics["observed"]] == [0.01, 0.02, 0.05, 0.1, 0.2]
    for row in metrics["observed"]:
        assert row["precision"] == pytest.approx(observed.loc[row["rate"], "ipw_hit_rate"], abs=1e-6)
        assert row["inspected_in_top"] == observed.loc[row["rate"], "inspected_in_top"]
        assert 0 <= row["recall"] <= 1
    recalls = [row["recall"] for row in metrics["observed"]]
    assert recalls == sorted(recalls)  # a larger top holds at least the violations of a smaller one
    for row in metrics["truth"]:
        for name in ("precision", "recall", "revenue"):
            assert row[name] == pytest.approx(truth.loc[row["rate"], name], abs=1e-6)
    json.dumps(metrics, allow_nan=False)  # JSON-safe as it is


def test_the_metrics_are_in_describe_and_in_the_model_file(result, tmp_path):
    metrics = result.model.info["metrics"]
    assert result.model.describe()["training"]["metrics"] == metrics
    loaded = riskscore.load(result.model.save(tmp_path / "m.rsk"))
    assert loaded.describe()["training"]["metrics"] == metrics
    assert loaded.version == result.model.version


def test_the_version_does_not_depend_on_the_evaluation(data, result):
    """Other outcomes in the held-out window: other metrics, the same scores, the same version."""
    cut = result.test["declared_at"].min()
    later = (data["declared_at"] >= cut).to_numpy()
    inspected = data["inspected"].to_numpy(dtype=bool)
    flipped = data.copy()
    flipped["observed_label"] = pd.array(
        np.where(
            later & inspected,
            ~data["observed_label"].fillna(False).to_numpy(dtype=bool),
            data["observed_label"],
        ),
        dtype="boolean",
    )
    other = train(flipped, kind="shipment", estimator=ChannelModel(n_estimators=60), num_threads=1)
    assert len(other.test) == len(result.test)
    assert other.model.version == result.model.version
    assert other.model.info["metrics"]["observed"] != result.model.info["metrics"]["observed"]


def test_progress_shows_the_steps_and_no_test_window_gives_no_metrics(capsys):
    small = generate_shipments(4000, seed=22)
    done = train(
        small,
        kind="shipment",
        estimator=ChannelModel(n_estimators=20),
        num_threads=1,
        test_fraction=0.0,
        baselines=True,
        progress=True,
    )
    assert done.model.info["metrics"] is None
    err = capsys.readouterr().err
    assert "train:" in err
    for step in ("validate", "features", "fit", "severity", "calibrate", "policy", "evaluate", "baseline"):
        assert step in err, step
    assert "/8 " in err and "0/8 " in err  # whole steps with baselines, not 0.00/8.00


def test_progress_must_be_a_bool_or_none(data):
    with pytest.raises(ParameterError, match=r"progress must be True, False or None .*; got 'yes'"):
        train(data, kind="shipment", progress="yes")  # type: ignore[arg-type]
