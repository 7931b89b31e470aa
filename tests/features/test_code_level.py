"""``code_level``: HS chapter and heading as LightGBM categories, the same in every path."""

from __future__ import annotations

import pytest

import riskscore
from riskscore.exceptions import SpecError
from riskscore.model import ChannelModel
from riskscore.training import train

from ..api.conftest import plain_records, row_dict


def _spec_with_levels() -> riskscore.RecordSpec:
    layout = riskscore.load_spec("shipment").to_dict()
    layout["features"] += [
        {"name": "hs_chapter", "kind": "code_level", "inputs": ["hs_code:2"]},
        {"name": "hs_heading", "kind": "code_level", "inputs": ["hs_code:4"]},
        {"name": "heading_hist", "kind": "history", "inputs": ["hs_code:4"], "windows": [30]},
    ]
    return riskscore.RecordSpec.from_dict(layout)


def test_code_levels_are_categories_and_one_record_equals_the_batch(world):
    spec = _spec_with_levels()
    result = train(
        world.shipments.iloc[:30_000], kind=spec, num_threads=1, estimator=ChannelModel(n_estimators=30)
    )
    model = result.model
    assert {"hs_chapter", "hs_heading"} <= set(model.features.categorical_features)
    assert "heading_hist_count_30d" in model.features.feature_names_
    test = result.test.reset_index(drop=True).iloc[:200]
    pred = model.predict(test)
    for i, record in enumerate(plain_records(test, spec.declared_columns)[:60]):
        assert model.predict_one(record) == row_dict(pred, i)
    chapter = model.features.feature_names_.index("hs_chapter")
    X = model.features.transform(riskscore.validate_frame(test[spec.declared_columns], spec))
    kept = model.features.states_["hs_chapter"]
    codes = [kept.index(c[:2]) if c[:2] in kept else len(kept) for c in test["hs_code"].astype(str)]
    assert X[:, chapter].tolist() == [float(c) for c in codes]


def test_a_code_level_needs_a_cut():
    layout = riskscore.load_spec("shipment").to_dict()
    layout["features"] += [{"name": "lvl", "kind": "code_level", "inputs": ["hs_code"]}]
    with pytest.raises(SpecError, match=r"code_level feature names a level as a cut of a code"):
        riskscore.RecordSpec.from_dict(layout)
