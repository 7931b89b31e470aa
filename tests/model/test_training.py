"""train(): label policy, time windows, held-out quality against baselines, the report, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore.exceptions import ParameterError, SchemaError
from riskscore.model import ChannelModel
from riskscore.spec import load_spec
from riskscore.training import time_split, train


@pytest.fixture(scope="module")
def shipment_report(world):
    return world.shipment_result.report()


def test_truth_training_is_refused_without_allow_truth(world):
    with pytest.raises(ParameterError, match="refused"):
        train(world.shipments, kind="shipment", label="truth")
    with pytest.raises(ParameterError, match="label must be 'observed' or 'truth'"):
        train(world.shipments, kind="shipment", label="oracle")


@pytest.mark.parametrize(("valid", "test"), [(0.15, 0.15), (0.2, 0.1), (0.3, 0.0)])
def test_time_split_windows_are_strictly_later_and_whole_days(world, valid, test):
    frame = world.shipments
    shuffled = frame.sample(frac=1.0, random_state=0)  # input order must not matter
    tr, va, te = time_split(shuffled, "declared_at", valid, test)
    assert len(tr) + len(va) + len(te) == len(frame)
    assert set(tr["declaration_id"]) | set(va["declaration_id"]) | set(te["declaration_id"]) == set(
        frame["declaration_id"]
    )
    days = [w["declared_at"].dt.floor("D") for w in (tr, va, te)]
    assert days[0].max() < days[1].min()
    if test:
        assert days[1].max() < days[2].min()
        assert len(te) / len(frame) == pytest.approx(test, abs=0.02)
    else:
        assert len(te) == 0
    assert len(va) / len(frame) == pytest.approx(valid, abs=0.02)
    # no day is split across windows
    assert not (set(days[0]) & set(days[1]) or set(days[1]) & set(days[2]) or set(days[0]) & set(days[2]))


def test_time_split_needs_three_days(world):
    one_day = world.shipments.iloc[:100].assign(declared_at=pd.Timestamp("2025-05-05 10:00"))
    with pytest.raises(ParameterError, match="at least 3 different days; got 1"):
        time_split(one_day, "declared_at", 0.15, 0.15)


@pytest.mark.parametrize("column", ["inspected", "observed_channel"])
def test_missing_outcome_columns_are_a_schema_error(world, column):
    frame = world.shipments.iloc[:3_000].drop(columns=[column])
    with pytest.raises(SchemaError, match=rf"training on observed labels needs column\(s\) '{column}'"):
        train(frame, kind="shipment", num_threads=1)


def test_model_beats_legacy_and_random_at_five_percent(shipment_report):
    truth = shipment_report["truth"]
    at5 = truth[truth["rate"] == 0.05].set_index("scorer")["precision"]
    assert {"model", "oracle", "random", "legacy rules"} <= set(at5.index)
    assert at5["model"] > 2 * at5["legacy rules"], at5.to_dict()
    assert at5["model"] > 3 * at5["random"], at5.to_dict()
    assert at5["model"] <= at5["oracle"] + 0.05, at5.to_dict()


def test_report_tables(world, shipment_report):
    assert {"truth", "observed", "mechanisms", "channels"} <= set(shipment_report)
    for name in ("truth", "observed", "mechanisms", "channels"):
        assert len(shipment_report[name]) > 0, name
    channels = shipment_report["channels"]
    assert set(channels.index.astype(str)) == {"green", "yellow", "red"}
    assert channels["records"].sum() == len(world.shipment_result.test)
    # shipments have no protected columns, so no groups table
    assert not load_spec("shipment").protected_columns
    assert "groups" not in shipment_report or len(shipment_report["groups"]) == 0


def test_passenger_report_has_protected_groups(world):
    report = world.passenger_result.report()
    assert "groups" in report
    groups = report["groups"]
    assert {"attribute", "group", "records", "selection_rate", "hit_rate_selected", "violation_rate"} <= set(
        groups
    )
    protected = set(load_spec("passenger").protected_columns)
    assert set(groups["attribute"]) <= protected
    assert {"nationality", "sex", "age"} <= set(groups["attribute"])
    age = groups[groups["attribute"] == "age"]
    assert set(age["group"]) <= {"<18", "18-29", "30-44", "45-59", "60+"}


def test_risk_score_is_calibrated_to_detected_violations(world):
    """Mean risk on the test window is of the order of the observed hit rate among inspected records."""
    test = world.shipment_result.test
    risk = world.shipment_model.predict(test)["risk_score"].to_numpy()
    inspected = test["inspected"].to_numpy(dtype=bool)
    hit = test["observed_label"].fillna(False).to_numpy(dtype=bool)
    base_rate = hit[inspected].mean()
    w = 1.0 / np.clip(test["selection_propensity"].to_numpy(dtype=float), 1e-9, 1.0)
    ipw_rate = (w * hit)[inspected].sum() / w[inspected].sum()
    assert 0 < ipw_rate <= base_rate  # legacy inspections favour risky records: IPW corrects down
    assert 0.3 * base_rate <= risk.mean() <= 3 * base_rate, (risk.mean(), base_rate, ipw_rate)
    # and the ranking carries the signal: the top 5% by risk are far riskier than the rest
    top = risk >= np.quantile(risk, 0.95)
    truth = test["truth_violation"].to_numpy(dtype=bool)
    assert truth[top].mean() > 3 * truth[~top].mean()


def test_training_records_what_it_did(world):
    model = world.shipment_model
    info = model.info
    result = world.shipment_result
    assert info["label"] == "observed"
    assert info["training_rows"] == result.train_rows
    assert info["validation_rows"] == result.valid_rows
    assert info["include_protected"] == []
    assert info["features"] == model.features.feature_names_
    assert 0 < model.estimator.best_iteration_ <= 150


def test_model_version_follows_what_decides_the_scores(world):
    """Same data and settings -> same version; other trees (or features, label, policy) -> another one."""
    from riskscore.model import ChannelModel

    data = world.shipments
    small = train(data, kind="shipment", estimator=ChannelModel(n_estimators=30), num_threads=2)
    again = train(data, kind="shipment", estimator=ChannelModel(n_estimators=30), num_threads=2)
    other = train(data, kind="shipment", estimator=ChannelModel(n_estimators=31), num_threads=2)
    assert small.model.version == again.model.version
    assert small.model.info["training_data_sha256"] == other.model.info["training_data_sha256"]
    assert other.model.version != small.model.version  # the parameters are part of the trees' text
    shuffled_policy = train(
        data, kind="shipment", estimator=ChannelModel(n_estimators=30), num_threads=2, seed=1
    )
    assert shuffled_policy.model.version != small.model.version  # another seed: other trees, other draws


def test_outcomes_are_read_through_the_spec_labels(world):
    """A 0/1/2 finding in a column of another name trains the same model as the channel words."""
    data = world.shipments.iloc[:40_000].copy()
    codes = {"green": 0, "yellow": 1, "red": 2}
    data["finding"] = data["observed_channel"].map(codes).astype("Int64")
    data = data.drop(columns=["observed_channel"])
    layout = riskscore.load_spec("shipment").to_dict()
    for column in layout["columns"]:
        if column["name"] == "observed_channel":
            column.update(name="finding", type="int", values=None)
            column.pop("values")
    layout["labels"] = {
        **layout["labels"],
        "outcome": "finding",
        "values": {"0": "green", "1": "yellow", "2": "red"},
    }
    spec = riskscore.RecordSpec.from_dict(layout)
    mine = train(data, kind=spec, num_threads=1, estimator=ChannelModel(n_estimators=30))
    words = train(
        world.shipments.iloc[:40_000], kind="shipment", num_threads=1, estimator=ChannelModel(n_estimators=30)
    )
    test = words.test.reset_index(drop=True)
    np.testing.assert_array_equal(
        mine.model.predict(test)["risk_score"].to_numpy(), words.model.predict(test)["risk_score"].to_numpy()
    )
    bad = data.assign(finding=data["finding"].where(data.index != data.index[5], 7))
    bad.loc[bad.index[5], "inspected"] = True
    with pytest.raises(
        SchemaError, match=r"column 'finding' holds outcome value\(s\) \['7'\] that spec \[labels\] values"
    ):
        train(bad, kind=spec, num_threads=1, estimator=ChannelModel(n_estimators=30))
