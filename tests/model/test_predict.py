"""RiskModel.predict: output contract, input forms, batch invariance, validation, files, shipped models."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riskscore.model
from riskscore.artifact import read_artifact
from riskscore.exceptions import ArtifactError, SchemaError
from riskscore.model import OUTPUT_COLUMNS, RiskModel
from riskscore.policy import CHANNELS, REASONS
from riskscore.synthetic import generate_shipments


@pytest.fixture(scope="module")
def batch(world):
    """500 raw records of the shipment test window and the model's predictions for them as one batch."""
    records = world.shipment_result.test.iloc[:500].reset_index(drop=True)
    return records, world.shipment_model.predict(records)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


# ---------------------------------------------------------------------------------------- the contract


def test_output_columns_and_one_row_per_record(batch):
    records, pred = batch
    assert tuple(pred.columns) == OUTPUT_COLUMNS
    assert len(pred) == len(records)
    assert pred["record_id"].tolist() == records["declaration_id"].astype(str).tolist()
    assert set(pred["channel"].astype(str)) <= set(CHANNELS)
    assert set(pred["selection_reason"]) <= set(REASONS)
    np.testing.assert_allclose(pred[["p_green", "p_yellow", "p_red"]].sum(axis=1), 1.0, atol=1e-12)
    assert pred["risk_score"].between(0, 1).all()
    assert pred["model_version"].nunique() == 1


def test_dataframe_list_of_dicts_and_one_dict_agree(world, batch):
    records, pred = batch
    model = world.shipment_model
    rows = records.iloc[:20]
    dicts = rows.to_dict(orient="records")
    assert isinstance(dicts[0], dict)
    _same(model.predict(dicts), pred.iloc[:20])
    _same(model.predict(dicts[3]), pred.iloc[[3]])
    with pytest.raises(SchemaError, match="records must be a DataFrame, a dict or a list of dicts"):
        model.predict([dicts[0], "not a record"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(0, 499))
def test_a_record_alone_scores_as_inside_its_batch(world, batch, i):
    records, pred = batch
    alone = world.shipment_model.predict(records.iloc[[i]])
    assert alone["risk_score"].iloc[0] == pred["risk_score"].iloc[i]
    assert alone["channel"].iloc[0] == pred["channel"].iloc[i]
    assert alone["selection_reason"].iloc[0] == pred["selection_reason"].iloc[i]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(idx=st.lists(st.integers(0, 499), min_size=2, max_size=40, unique=True))
def test_any_sub_batch_scores_as_inside_the_full_batch(world, batch, idx):
    records, pred = batch
    _same(world.shipment_model.predict(records.iloc[idx]), pred.iloc[idx])


def test_column_order_and_category_form_do_not_matter(world, batch):
    records, pred = batch
    model = world.shipment_model
    rng = np.random.default_rng(1)
    shuffled_cols = records[list(rng.permutation(records.columns))]
    _same(model.predict(shuffled_cols), pred)
    other = records.copy()
    for c in other.columns:
        if isinstance(other[c].dtype, pd.CategoricalDtype):
            cats = list(other[c].cat.categories)
            other[c] = other[c].cat.set_categories([cats[j] for j in rng.permutation(len(cats))])
    _same(model.predict(other), pred)
    as_str = records.copy()
    for c in as_str.columns:
        if isinstance(as_str[c].dtype, pd.CategoricalDtype):
            as_str[c] = as_str[c].astype(object).where(as_str[c].notna(), None)
    _same(model.predict(as_str), pred)


def test_unseen_category_values_score(world, batch):
    records, pred = batch
    fresh = records.iloc[:10].copy()
    for c in ("office_code", "importer_id", "declarant_id", "quantity_unit"):
        fresh[c] = fresh[c].astype(object)
        fresh[c] = [f"NEW_{c}_{i}" for i in range(len(fresh))]
    fresh["hs_code"] = "999999"
    fresh["origin_country"] = "ZZ"
    fresh["departure_country"] = "QQ"
    out = world.shipment_model.predict(fresh)
    assert len(out) == 10
    assert np.isfinite(out[["risk_score", "p_green", "p_yellow", "p_red"]].to_numpy()).all()
    assert set(out["channel"].astype(str)) <= set(CHANNELS)
    assert not out["risk_score"].equals(pred["risk_score"].iloc[:10].reset_index(drop=True))


# ------------------------------------------------------------------------------------------ validation


def test_missing_required_column_is_named(world, batch):
    records, _ = batch
    with pytest.raises(SchemaError, match="cif_value_usd"):
        world.shipment_model.predict(records.drop(columns=["cif_value_usd"]))


def test_wrong_type_names_column_and_row(world, batch):
    records, _ = batch
    bad = records.iloc[:6].copy()
    bad["cif_value_usd"] = bad["cif_value_usd"].astype(object)
    bad.loc[4, "cif_value_usd"] = "abc"
    record_id = bad.loc[4, "declaration_id"]
    expected = rf"column 'cif_value_usd' must be a number; row 4 \(declaration_id '{record_id}'\) has 'abc'"
    with pytest.raises(SchemaError, match=expected):
        world.shipment_model.predict(bad)


def test_negative_amount_is_refused(world, batch):
    records, _ = batch
    bad = records.iloc[:6].copy()
    bad.loc[2, "fob_value_usd"] = -5.0
    with pytest.raises(SchemaError, match=r"column 'fob_value_usd' must be .*>= 0; row 2"):
        world.shipment_model.predict(bad)


# ------------------------------------------------------------------------------------------- files


def test_save_load_gives_identical_predictions(world, batch, tmp_path):
    records, pred = batch
    path = world.shipment_model.save(tmp_path / "m.rsk")
    again = RiskModel.from_file(path)
    _same(again.predict(records), pred)
    _same(riskscore.model.load(str(path)).predict(records), pred)


def _rezip(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info.filename, change(info.filename, data))


def test_tampered_model_file_is_refused_before_anything_runs(world, tmp_path, monkeypatch):
    good = world.shipment_model.save(tmp_path / "good.rsk")

    def flip(name, data):
        if name != "model.txt":
            return data
        pos = data.index(b"Tree=1")  # somewhere in the trees, not in a header
        return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]

    bad = tmp_path / "bad.rsk"
    _rezip(good, bad, flip)
    with zipfile.ZipFile(bad) as z:
        assert z.read("manifest.json") == zipfile.ZipFile(good).read("manifest.json")
    booted = []
    monkeypatch.setattr(riskscore.model.lgb, "Booster", lambda *a, **k: booted.append(1))
    with pytest.raises(ArtifactError, match=r"member model\.txt was modified: sha256"):
        RiskModel.from_file(bad)
    with pytest.raises(ArtifactError):
        read_artifact(bad)
    assert booted == []  # LightGBM never parsed the tampered text


def test_truncated_model_file_is_refused(world, tmp_path):
    good = world.shipment_model.save(tmp_path / "good.rsk")
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        bad = tmp_path / f"cut{cut}.rsk"
        bad.write_bytes(data[:cut])
        with pytest.raises(ArtifactError, match="cannot load model"):
            RiskModel.from_file(bad)


# ------------------------------------------------------------------------------------ shipped models


def test_shipped_shipment_model_scores_fresh_records():
    model = riskscore.model.load("shipment")
    fresh = generate_shipments(100, seed=9)
    out = model.predict(fresh)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert len(out) == 100
    assert set(out["channel"].astype(str)) <= {"green", "yellow", "red"}
    assert out["risk_score"].notna().all()


@pytest.mark.slow
def test_shipped_shipment_model_channel_shares_follow_the_policy():
    """On its default fresh batch the shipped model sends about 4.5% + 0.5% red and 14% + 1% yellow."""
    from riskscore.defaults import default_frames

    _, fresh = default_frames("shipment")  # 51k fresh records of 650k generated: 5-9 s
    pred = riskscore.model.load("shipment").predict(fresh, num_threads=2)
    share = pred["channel"].astype(str).value_counts(normalize=True)
    assert 0.04 <= share.get("red", 0.0) <= 0.07, share.to_dict()
    assert 0.12 <= share.get("yellow", 0.0) <= 0.22, share.to_dict()
