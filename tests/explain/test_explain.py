"""riskscore.explain: exact TreeSHAP contributions, fields, reason sentences and the planted mechanisms."""

from __future__ import annotations

import math
import re
import string
import tomllib
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from riskscore.explain import REASONS_VERSION, Explanation, explain, feature_fields, global_importance
from riskscore.model import OUTPUT_COLUMNS

# Internal feature names an officer must never see as a "field".
INTERNAL = ("unit_value_vs_ref", "importer_hit_rate", "value_per_kg_vs_ref", "duty_gap", "calendar_hour")


@pytest.fixture(scope="module")
def sample(shipment_test):
    """The first 1,500 records of the shipment test window."""
    return shipment_test.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="module")
def sample_ex(shipment_model, sample) -> Explanation:
    return explain(shipment_model, sample)


# ------------------------------------------------------------------------------ exact contributions


def _shap_values(booster, X: np.ndarray) -> np.ndarray:
    """shap's TreeSHAP values of the positive class, whatever output shape this shap version uses."""
    with warnings.catch_warnings():
        # importing shap builds its colour maps with a call matplotlib plans to deprecate
        warnings.filterwarnings(
            "ignore", message=r"The set_\w+ function will be deprecated", category=PendingDeprecationWarning
        )
        import shap
    with warnings.catch_warnings():
        # shap warns that its output format for LightGBM binary models changed (list -> array)
        warnings.filterwarnings(
            "ignore",
            message="LightGBM binary classifier with TreeExplainer shap values output has changed",
            category=UserWarning,
        )
        values = shap.TreeExplainer(booster).shap_values(X)
    if isinstance(values, list):  # older shap: [class 0, class 1] for a binary model
        values = values[-1]
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3:  # (rows, features, classes)
        values = values[..., -1]
    return values


def test_contributions_equal_shap_treeexplainer(shipment_model, sample):
    rows = sample.iloc[:400]
    booster = shipment_model.estimator.booster_
    X = shipment_model.features.transform(rows)
    ours = explain(shipment_model, rows)
    theirs = _shap_values(booster, X)
    assert theirs.shape == ours.contributions.shape == (400, len(shipment_model.features.feature_names_))
    assert list(ours.contributions.columns) == shipment_model.features.feature_names_
    assert np.abs(ours.contributions.to_numpy() - theirs).max() <= 1e-6
    # additivity: base value plus contributions is the risk booster's raw score (log-odds)
    total = ours.base_value + ours.contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, ours.raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.raw, booster.predict(X, raw_score=True), rtol=0, atol=1e-9)
    # and the log-odds are those behind the model's probability of a violation
    p = shipment_model.estimator.predict_proba(X)[:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-ours.raw)), p, rtol=0, atol=1e-12)


def test_passenger_contributions_add_up(passenger_model, passenger_test):
    rows = passenger_test.iloc[:400]
    ex = explain(passenger_model, rows)
    X = passenger_model.features.transform(rows)
    raw = passenger_model.estimator.booster_.predict(X, raw_score=True)
    np.testing.assert_allclose(
        ex.base_value + ex.contributions.sum(axis=1).to_numpy(), raw, rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(ex.fields.sum(axis=1), ex.contributions.sum(axis=1), rtol=0, atol=1e-9)
    assert set(ex.fields.columns) <= set(passenger_model.spec.declared_columns)


# ------------------------------------------------------------------------------------------ fields


def test_fields_keep_the_total_and_are_declared_columns(shipment_model, sample_ex):
    ex = sample_ex
    np.testing.assert_allclose(ex.fields.sum(axis=1), ex.contributions.sum(axis=1), rtol=0, atol=1e-9)
    declared = set(shipment_model.spec.declared_columns)
    assert set(ex.fields.columns) <= declared
    internal = set(shipment_model.features.feature_names_) - {c.name for c in shipment_model.spec.columns}
    assert {"unit_value_vs_ref", "importer_hit_rate"} <= internal  # the check below is not vacuous
    assert not internal & set(ex.fields.columns)
    for name in INTERNAL:
        assert name not in ex.fields.columns
    # derived features land on the fields they come from
    assert {"cif_value_usd", "quantity", "importer_id", "declared_at", "hs_code"} <= set(ex.fields.columns)
    assert ex.fields.shape[0] == ex.contributions.shape[0] == len(ex.record_ids)


def test_feature_fields_attribute_derived_features(shipment_model):
    names = shipment_model.features.feature_names_
    mapping = feature_fields(shipment_model.spec, names)
    assert set(mapping) == set(names)
    assert mapping["unit_value_vs_ref"] == ("cif_value_usd", "quantity")
    # the importer's hit rate backs off to its broker, HS code, origin and office: it reads their records too
    assert mapping["importer_hit_rate"] == (
        "importer_id",
        "declarant_id",
        "hs_code",
        "origin_country",
        "office_code",
    )
    assert mapping["importer_count"] == ("importer_id",)
    assert mapping["calendar_hour"] == ("declared_at",)
    assert mapping["cif_value_usd"] == ("cif_value_usd",)
    columns = {c.name for c in shipment_model.spec.columns}
    assert all(fields and set(fields) <= columns for fields in mapping.values())


# ------------------------------------------------------------------------------------------ reasons


def test_value_below_reference_quotes_the_record(sample, sample_ex):
    ex = sample_ex
    rows = [i for i, rs in enumerate(ex.reasons) if rs and rs[0].code == "VALUE_BELOW_REFERENCE"]
    assert len(rows) >= 20, f"only {len(rows)} records have VALUE_BELOW_REFERENCE as top reason"
    for i in rows:
        reason = ex.reasons[i][0]
        record = sample.iloc[i]
        assert str(record["hs_code"]) in reason.text
        assert str(record["origin_country"]) in reason.text
        v = ex.values["unit_value_vs_ref"].iloc[i]
        assert v < 0
        assert f"{round(100 * (1 - math.exp(v)))}% below" in reason.text, reason.text
        assert reason.fields == ("cif_value_usd", "quantity")
        assert reason.contribution == pytest.approx(ex.contributions["unit_value_vs_ref"].iloc[i], abs=1e-12)


@pytest.mark.parametrize("top_k", [1, 3, 5])
def test_reasons_raise_risk_are_capped_and_unique(shipment_model, sample, top_k):
    ex = explain(shipment_model, sample.iloc[:600], top_k=top_k)
    assert len(ex.reasons) == 600
    assert any(len(rs) == top_k for rs in ex.reasons)
    contributions = ex.contributions.to_numpy()
    for i, rs in enumerate(ex.reasons):
        assert len(rs) <= top_k
        assert all(r.contribution > 0 for r in rs)
        assert len({r.code for r in rs}) == len(rs)
        assert [r.contribution for r in rs] == sorted((r.contribution for r in rs), reverse=True)
        assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", r.code) for r in rs)
        best = contributions[i].max()
        if best > 0:  # the strongest risk-raising feature is always the first reason
            assert rs[0].contribution == best
        else:
            assert rs == []


def test_reason_table_codes_are_unique_and_well_formed(shipment_model, passenger_model):
    raw = tomllib.loads((resources.files("riskscore") / "reasons.toml").read_text(encoding="utf-8"))
    assert isinstance(REASONS_VERSION, int)
    assert REASONS_VERSION >= 1
    assert raw["version"] == REASONS_VERSION
    entries = raw["reason"]
    keys = [(e["feature"], e.get("when", "any")) for e in entries]
    assert len(keys) == len(set(keys)), "two reason entries for the same feature and direction"
    codes = [e["code"] for e in entries]
    texts: dict[str, set[str]] = {}
    for e in entries:  # a code may serve two features only with one sentence ("no earlier declarations")
        texts.setdefault(e["code"], set()).add(e["text"])
    assert all(len(t) == 1 for t in texts.values()), "a code names two different reasons"
    assert all(re.fullmatch(r"^[A-Z][A-Z0-9_]+$", c) for c in codes)
    assert {e.get("when", "any") for e in entries} <= {"any", "negative", "positive", "no_history"}
    # "no earlier records" applies only to a history key's hit rate and age
    assert all(
        e["feature"].endswith(("_hit_rate", "_days_since_first"))
        for e in entries
        if e.get("when") == "no_history"
    )
    # every entry belongs to a feature one of the models makes, and its text only uses known values
    features = set(shipment_model.features.feature_names_) | set(passenger_model.features.feature_names_)
    assert {e["feature"] for e in entries} <= features
    columns = {c.name for m in (shipment_model, passenger_model) for c in m.spec.columns if c.declared}
    computed = {"value", "value_int", "pct", "rate", "value_pct", "value_pct_plus", "duty_rate_pct"}
    for e in entries:
        used = {name for _, name, _, _ in string.Formatter().parse(e["text"]) if name}
        assert used <= computed | columns, (e["code"], used - computed - columns)


def test_predict_with_reasons(shipment_model, sample):
    rows = sample.iloc[:300]
    pred = shipment_model.predict(rows, explain=True, top_k=3)
    assert list(pred.columns) == [*OUTPUT_COLUMNS, "reason_codes", "reasons"]
    plain = shipment_model.predict(rows)
    pd.testing.assert_frame_equal(pred[list(OUTPUT_COLUMNS)], plain)
    ex = shipment_model.explain(rows, top_k=3)
    assert pred["record_id"].tolist() == ex.record_ids.tolist()
    firsts = [rs[0].code if rs else "" for rs in ex.reasons]
    assert [codes.split(";")[0] for codes in pred["reason_codes"]] == firsts
    assert sum(bool(c) for c in firsts) > 250
    for codes, text, rs in zip(pred["reason_codes"], pred["reasons"], ex.reasons, strict=True):
        assert codes == ";".join(r.code for r in rs)
        assert text == "\n".join(r.text for r in rs)


def test_global_importance_sorted_non_negative(sample_ex):
    imp = global_importance(sample_ex)
    assert len(imp) == sample_ex.fields.shape[1]
    assert (imp >= 0).all()
    assert imp.iloc[0] > 0
    assert (np.diff(imp.to_numpy()) <= 0).all()
    pd.testing.assert_series_equal(imp.sort_index(), sample_ex.fields.abs().mean().sort_index())


# ----------------------------------------------------------------------- planted mechanisms (truth)

# The declared fields a planted mechanism falsifies (or that give it away).
MECHANISM_FIELDS = {
    **{m: {"cif_value_usd", "fob_value_usd"} for m in ("S1", "S6", "S7", "S10", "S11")},
    "S4": {"quantity", "net_weight_kg"},
    "S5": {"net_weight_kg", "cif_value_usd", "quantity"},
    # docs/domain.md 2.2 S2: a lower declared rate, and a unit value and weight per unit atypical for the code
    "S2": {"hs_code", "duty_rate", "cif_value_usd", "net_weight_kg"},
    "S3": {"origin_country", "departure_country", "preference_claimed"},
    "S8": {"procedure", "quantity"},
    "S9": {"cif_value_usd", "office_type", "procedure"},
}


def test_planted_mechanism_field_is_among_the_top_fields(shipment_model, shipment_test):
    risk = shipment_model.predict(shipment_test)["risk_score"].to_numpy()
    top = np.argsort(-risk, kind="stable")[: round(0.05 * len(shipment_test))]
    caught = shipment_test.iloc[top[shipment_test["truth_violation"].to_numpy(dtype=bool)[top]]]
    ex = explain(shipment_model, caught)
    fields = ex.fields.to_numpy()
    names = ex.fields.columns
    rows = []
    for i in range(len(caught)):
        order = np.argsort(-fields[i], kind="stable")[:3]
        top3 = {names[j] for j in order if fields[i, j] > 0}
        mechanism = str(caught["truth_mechanism"].iloc[i])
        rows.append((mechanism, bool(top3 & MECHANISM_FIELDS[mechanism])))
    table = pd.DataFrame(rows, columns=["mechanism", "hit"]).groupby("mechanism")["hit"].agg(["size", "mean"])
    table.columns = ["caught", "share_field_in_top3"]
    overall = float(np.mean([hit for _, hit in rows]))
    print(f"\nplanted mechanism's field among the top-3 fields, {len(rows)} caught violations:")
    print(table.to_string(float_format="{:.3f}".format))
    print(f"overall {overall:.3f}")
    # Measured (v2 world with the physical-check head; seed 21, 60k shipments, 150 rounds): 176 caught
    # violations; mechanisms with >= 20 caught: S1 0.984 (62), S2 1.0 (25), S9 0.974 (39); smaller ones
    # S6 1.0 (16), S3 0.273 (11), S4 0.875 (8), S5 1.0 (7). Training is deterministic, so the
    # floors leave room for platform differences in LightGBM and a few shifted records, not for noise:
    # overall >= 0.75 and >= 0.6 per mechanism with 20+ cases (a field-grouping or reason bug that
    # sends derived features to the wrong fields drops these towards the ~0.2 chance level).
    assert len(rows) >= 100
    assert overall >= 0.75
    big = table[table["caught"] >= 20]
    assert len(big) >= 2
    assert (big["share_field_in_top3"] >= 0.6).all(), big


# ------------------------------------------------------------------------------------ input forms


def test_empty_frame_and_one_dict(shipment_model, shipment_test, sample_ex):
    empty = explain(shipment_model, shipment_test.iloc[0:0])
    n_features = len(shipment_model.features.feature_names_)
    assert empty.contributions.shape == (0, n_features)
    assert empty.reasons == []
    assert len(empty.raw) == len(empty.base_value) == len(empty.record_ids) == 0
    assert empty.fields.shape[0] == 0
    assert empty.reasons_frame().empty

    record = shipment_test.iloc[7].to_dict()
    assert isinstance(record, dict)
    one = explain(shipment_model, record)
    assert one.contributions.shape == (1, n_features)
    assert one.record_ids.tolist() == [str(record["declaration_id"])]
    # a record explained alone is explained exactly as in a batch
    np.testing.assert_allclose(one.contributions.iloc[0], sample_ex.contributions.iloc[7], rtol=0, atol=1e-12)
    assert one.reasons[0] == sample_ex.reasons[7]
    long = one.reasons_frame()
    assert long["code"].tolist() == [r.code for r in one.reasons[0]]
    assert long["rank"].tolist() == list(range(1, len(one.reasons[0]) + 1))
