"""The physical-check head: what only a physical inspection can reveal, joined into the risk booster."""

from __future__ import annotations

import dataclasses

import lightgbm as lgb
import numpy as np
import pytest

from riskscore._lgbmerge import merge_boosters
from riskscore._lgbtext import check_model_text
from riskscore.exceptions import SpecError
from riskscore.spec import LabelSpec, load_spec
from riskscore.synthetic import generate_shipments
from riskscore.training import train


def _boosters() -> tuple[lgb.Booster, lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 5))
    X[:, 4] = rng.integers(0, 4, 3000)
    y1 = (X[:, 0] + rng.normal(size=3000) > 1).astype(int)
    y2 = (X[:, 1] + 0.5 * X[:, 4] + rng.normal(size=3000) > 1).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1}
    a = lgb.train(params, lgb.Dataset(X, y1, categorical_feature=[4]), 25)
    b = lgb.train(params, lgb.Dataset(X[:1500], y2[:1500], categorical_feature=[4]), 15)
    return a, b, X


def test_merged_margin_is_the_weighted_sum_and_contributions_add_up():
    a, b, X = _boosters()
    merged = merge_boosters(a, b, (0.7, 1.3), iterations=(25, 15))
    assert merged.num_trees() == 40
    want = 0.7 * a.predict(X, raw_score=True) + 1.3 * b.predict(X, raw_score=True)
    np.testing.assert_allclose(merged.predict(X, raw_score=True), want, rtol=0, atol=1e-12)
    contrib = merged.predict(X[:100], pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), want[:100], rtol=0, atol=1e-12)
    check_model_text(merged.model_to_string(), source="merged")  # a text the model file accepts


def test_merge_uses_only_the_iterations_asked_for():
    a, b, X = _boosters()
    merged = merge_boosters(a, b, (1.0, 1.0), iterations=(10, 5))
    want = a.predict(X, raw_score=True, num_iteration=10) + b.predict(X, raw_score=True, num_iteration=5)
    np.testing.assert_allclose(merged.predict(X, raw_score=True), want, rtol=0, atol=1e-12)


def test_labels_check_and_physical_go_together():
    with pytest.raises(SpecError, match="check and physical go together"):
        LabelSpec("observed_channel", check="legacy_channel")
    with pytest.raises(SpecError, match="physical must list"):
        LabelSpec("observed_channel", check="legacy_channel", physical="red")
    labels = LabelSpec("observed_channel", check="legacy_channel", physical=["red"])
    assert labels.physical == ("red",)
    assert LabelSpec.from_dict(labels.to_dict()) == labels


def test_check_column_must_not_be_an_input():
    spec = load_spec("shipment")
    assert spec.labels is not None and spec.labels.check == "legacy_channel"
    with pytest.raises(SpecError, match="check names 'nope'"):
        dataclasses.replace(spec, labels=dataclasses.replace(spec.labels, check="nope"))


@pytest.fixture(scope="module")
def trained():
    frame = generate_shipments(60_000, seed=8)
    spec = load_spec("shipment")
    plain = dataclasses.replace(spec, labels=dataclasses.replace(spec.labels, check=None, physical=()))
    with_head = train(frame, kind=spec, num_threads=1)
    without = train(frame, kind=plain, num_threads=1)
    return frame, with_head, without


def test_training_adds_the_physical_head_where_the_spec_names_the_check(trained):
    _, with_head, without = trained
    head = with_head.model.info["physical_head"]
    assert head["check"] == "legacy_channel" and head["physical"] == ["red"]
    assert head["physical_rows"] > 1_000 and all(w > 0 for w in head["weights"])
    assert without.model.info["physical_head"] is None
    assert with_head.model.estimator.booster_.num_trees() == sum(head["trees"])
    assert head["trees"][1] > 0
    # the head changes the ranking: the same records score differently with and without it
    window = with_head.test.head(2_000)
    assert not np.array_equal(
        with_head.model.predict(window)["risk_score"], without.model.predict(window)["risk_score"]
    )
    # one booster: the batch and one-record answers and the explanation's sums hold as for any model
    test = with_head.test.head(200)
    out = with_head.model.predict(test)
    assert out["risk_score"].between(0, 1).all()
    one = with_head.model.predict_one(test.iloc[0].to_dict())
    assert one["risk_score"] == out["risk_score"].iloc[0]


def test_the_physical_head_survives_a_save_and_load(trained, tmp_path):
    import riskscore

    _, with_head, _ = trained
    path = tmp_path / "m.rsk"
    with_head.model.save(path)
    loaded = riskscore.load(path)
    test = with_head.test.head(300)
    np.testing.assert_array_equal(
        loaded.predict(test)["risk_score"], with_head.model.predict(test)["risk_score"]
    )
    assert loaded.info["physical_head"] == with_head.model.info["physical_head"]
