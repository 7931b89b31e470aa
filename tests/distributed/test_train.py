"""riskscore.distributed.train on a two-worker LocalCluster, against riskscore.train on one machine.

The feature state, the windows and the training data's fingerprint must be the one-machine ones exactly;
the trees come from LightGBM's data-parallel training, which is not bit-identical, so the scores are held
within a tolerance (docs/api.md gives the measured figures on larger data).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore import distributed
from riskscore.distributed import _cut_days
from riskscore.exceptions import ParameterError
from riskscore.features._common import days
from riskscore.model import ChannelModel
from riskscore.synthetic import generate_shipments
from riskscore.training import time_split

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("lightgbm.dask")

TREES = 30


@pytest.fixture(scope="module")
def trained(client, shipments_dir):
    frame = pd.concat(
        [pd.read_parquet(f) for f in sorted(shipments_dir.glob("*.parquet"))], ignore_index=True
    )
    local = riskscore.train(frame, estimator=ChannelModel(n_estimators=TREES), num_threads=1)
    spread = distributed.train(
        dd.read_parquet(shipments_dir), client=client, estimator=ChannelModel(n_estimators=TREES)
    )
    return local, spread


def test_the_feature_state_windows_and_fingerprint_are_the_one_machine_ones(trained):
    local, spread = trained
    assert json.dumps(spread.model.features.to_dict(), sort_keys=True) == json.dumps(
        local.model.features.to_dict(), sort_keys=True
    )
    for key in ("training_rows", "training_labelled_rows", "validation_rows", "training_data_sha256"):
        assert spread.model.info[key] == local.model.info[key], key
    assert spread.model.info["training_period"] == local.model.info["training_period"]
    for column in ("declaration_id", "declared_at"):
        assert spread.test[column].astype(str).tolist() == local.test[column].astype(str).tolist()
    assert spread.model.info["distributed"]["workers"] == 2
    assert (
        spread.model.info["physical_head"]["physical_rows"]
        == local.model.info["physical_head"]["physical_rows"]
    )
    # here too few found violations are red for a severity head (riskscore.training.MIN_SEVERE): the prior
    assert (spread.model.severity is None) == (local.model.severity is None)
    assert spread.model.severity_prior == local.model.severity_prior > 0


def test_scores_are_within_lightgbms_distributed_tolerance_of_a_local_model(trained, tmp_path):
    local, spread = trained
    test = local.test
    a = spread.model.predict(test)["risk_score"].to_numpy()
    b = local.model.predict(test)["risk_score"].to_numpy()
    rank = pd.Series(a).corr(pd.Series(b), method="spearman")
    k = int(0.05 * len(test))
    overlap = len(set(np.argsort(-a)[:k]) & set(np.argsort(-b)[:k])) / k
    assert rank > 0.85, rank
    assert overlap > 0.7, overlap
    assert np.mean(np.abs(a - b)) < 0.02
    path = spread.model.save(tmp_path / "spread.rsk")  # a distributed model is an ordinary model file
    assert riskscore.load(path).predict(test)["risk_score"].equals(pd.Series(a, name="risk_score"))


def test_partitions_out_of_time_order_are_refused(client, shipments_dir):
    ddf = dd.read_parquet(shipments_dir)
    reversed_ = dd.concat([ddf.partitions[1], ddf.partitions[0]])
    with pytest.raises(ParameterError, match=r"partition 1 starts on .*sort the records by time"):
        distributed.train(reversed_, client=client, estimator=ChannelModel(n_estimators=2))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"valid": 0.2, "test": 0.0},
        {"valid_from": "2025-09-01"},
        {"test_from": "2025-11-15"},
        {"valid_from": "2025-08-01", "test_from": "2025-10-01"},
    ],
)
def test_the_split_days_are_time_splits(options):
    frame = generate_shipments(5_000, seed=1)
    valid, test = options.get("valid", 0.15), options.get("test", 0.15)
    dates = {k: v for k, v in options.items() if k.endswith("_from")}
    _, valid_f, test_f = time_split(frame, "declared_at", valid, test, **dates)
    values, counts = np.unique(days(frame["declared_at"]), return_counts=True)
    valid_day, test_day = _cut_days(
        dict(zip(values.tolist(), counts.tolist(), strict=True)),
        valid,
        test,
        dates.get("valid_from"),
        dates.get("test_from"),
    )
    assert valid_day == days(valid_f["declared_at"]).min()
    if len(test_f):
        assert test_day == days(test_f["declared_at"]).min()
    else:
        assert test_day is None
    with pytest.raises(ParameterError, match="must be before test_from"):
        _cut_days(
            dict(zip(values.tolist(), counts.tolist(), strict=True)), 0.1, 0.1, "2025-10-01", "2025-09-01"
        )
