"""explain() of one record given as a dict: the pandas-free path gives exactly the batch path's answer.

One dict that ``RiskModel._coerce_one`` accepts is explained from the one-record feature row with
LightGBM's single-row contributions and raw score; everything else (lists, frames, dicts needing coercion
or refused) takes the batch path. These tests hold the two paths to the same numbers, bit for bit, and the
same reason sentences, on the session's trained models and on the shipped ones; and
``predict_one(explain=True)`` to ``predict(explain=True)``.
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskscore import OUTPUT_COLUMNS, SchemaError
from riskscore._fastpredict import PREDICT_CONTRIB, PREDICT_NORMAL, PREDICT_RAW_SCORE, SingleRowPredictor
from riskscore.explain import Explanation, _field_contributions, _Layout, _sentence_record, explain
from riskscore.features import FeatureBuilder
from riskscore.model import RiskModel
from riskscore.spec import RecordSpec
from riskscore.synthetic import generate_passengers, generate_shipments
from riskscore.validation import validate_frame

from ..api.conftest import plain_records

N_RECORDS = 200


# ------------------------------------------------------------------------------------------- helpers


def _records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of `frame` as dicts of plain Python values (the predict-API tests' helper)."""
    return plain_records(frame, columns)


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def _fresh(model: RiskModel, kind: str) -> pd.DataFrame:
    """Records the shipped model has never seen: December 2025, validated, declared columns only."""
    generate = generate_shipments if kind == "shipment" else generate_passengers
    frame = generate(300, seed=2025, start="2025-12-01", days=31)
    return validate_frame(frame[model.spec.declared_columns], kind)


def _row(frame: pd.DataFrame | None, i: int) -> pd.DataFrame | None:
    return None if frame is None else frame.iloc[[i]].reset_index(drop=True)


def _assert_same(one: Explanation, batch: Explanation, i: int) -> None:
    """Record ``i`` of a batch explanation is the one-record explanation, exactly."""
    for name in ("contributions", "fields", "values", "severity"):
        got, want = getattr(one, name), _row(getattr(batch, name), i)
        if want is None:
            assert got is None, name
        else:
            assert got is not None, name
            pd.testing.assert_frame_equal(got, want, check_exact=True, obj=f"{name} of record {i}")
    np.testing.assert_array_equal(one.base_value, batch.base_value[i : i + 1], strict=True)
    np.testing.assert_array_equal(one.raw, batch.raw[i : i + 1], strict=True)
    pd.testing.assert_series_equal(
        one.record_ids, batch.record_ids.iloc[i : i + 1].reset_index(drop=True), check_exact=True
    )
    assert one.reasons == [batch.reasons[i]], f"record {i}"  # code, text, fields and contribution
    assert all(type(r.contribution) is float for r in one.reasons[0])


def _assert_all_same(ones: list[Explanation], batch: Explanation) -> None:
    """The one-record explanations, stacked, are the batch explanation, exactly (one frame check each)."""
    assert len(ones) == len(batch.reasons)
    for name in ("contributions", "fields", "values", "severity"):
        got, want = [getattr(o, name) for o in ones], getattr(batch, name)
        if want is None:
            assert all(g is None for g in got), name
            continue
        assert all(g is not None and len(g) == 1 for g in got), name
        pd.testing.assert_frame_equal(
            pd.concat(got, ignore_index=True), want.reset_index(drop=True), check_exact=True, obj=name
        )
    for name in ("base_value", "raw"):
        np.testing.assert_array_equal(np.concatenate([getattr(o, name) for o in ones]), getattr(batch, name))
        assert all(getattr(o, name).dtype == np.float64 for o in ones)
    pd.testing.assert_series_equal(
        pd.concat([o.record_ids for o in ones], ignore_index=True), batch.record_ids, check_exact=True
    )
    mismatches = [
        (i, o.reasons, batch.reasons[i]) for i, o in enumerate(ones) if o.reasons != [batch.reasons[i]]
    ]
    assert not mismatches, f"{len(mismatches)} records explained differently; first: {mismatches[0]}"


def _assert_one_equals_batch(model: RiskModel, frame: pd.DataFrame, top_k: int = 5) -> None:
    records = _records(frame, model.spec.declared_columns)
    batch = explain(model, frame, top_k=top_k, severity=True)
    assert (batch.severity is None) is (model.severity is None)
    assert sum(bool(r) for r in batch.reasons) > len(frame) // 2, "too few reasons to compare"
    ones = [model.explain(record, top_k=top_k, severity=True) for record in records]
    _assert_all_same(ones, batch)
    assert all(type(r.contribution) is float for o in ones for r in o.reasons[0])
    # and a batch of that one record gives the same (a one-row frame has its own dtypes)
    for i in range(0, len(records), 10):
        _assert_same(ones[i], model.explain([records[i]], top_k=top_k, severity=True), 0)
    assert isinstance(model.explainer()._fast, tuple), "the single-row C path was not used"


@pytest.fixture(scope="module")
def shipments(shipment_test: pd.DataFrame) -> pd.DataFrame:
    """200 records of the trained shipment model's test window (truth columns kept)."""
    return _sample(shipment_test, N_RECORDS, seed=3)


@pytest.fixture
def model_copy(shipment_model: RiskModel) -> RiskModel:
    """A copy of the session's shipment model that a test may patch (caches are not copied)."""
    return copy.copy(shipment_model)


# ------------------------------------------------------------------------------ one equals the batch


@pytest.mark.parametrize("top_k", [5, 2])
def test_one_record_equals_batch_shipments(shipment_model, shipments, top_k):
    _assert_one_equals_batch(shipment_model, shipments, top_k=top_k)


def test_one_record_equals_batch_passengers(passenger_model, passenger_test):
    frame = _sample(passenger_test, N_RECORDS, seed=4)
    # passengers carry missing values of nullable columns (land gates have no flight, no PNR)
    assert frame["flight_number"].isna().any() and frame["dwell_hours"].isna().any()
    _assert_one_equals_batch(passenger_model, frame)


SHIPPED = {
    "shipment": "shipped_model",
    "passenger": "shipped_passenger_model",
}  # fixtures (tests/conftest.py)


@pytest.mark.parametrize("kind", ["shipment", "passenger"])
def test_one_record_equals_batch_shipped_models(request, kind):
    model = request.getfixturevalue(SHIPPED[kind])
    _assert_one_equals_batch(model, _fresh(model, kind).iloc[:N_RECORDS])


def test_missing_value_is_quoted_as_the_batch_quotes_it(shipment_model, shipments):
    # goods_description is nullable: None must read as the batch's NaN wherever a sentence quotes it
    records = _records(shipments.iloc[:50], shipment_model.spec.declared_columns)
    batch = explain(shipment_model, [dict(r, goods_description=None) for r in records])
    for i, record in enumerate(records):
        _assert_same(shipment_model.explain(dict(record, goods_description=None)), batch, i)


def test_sentence_record_matches_the_batch_frame_row():
    # every declared type, present, missing and absent, against validate_frame's to_dict("records") row
    spec = RecordSpec.from_dict(
        {
            "spec": {"name": "t", "version": 1, "id": "rid", "timestamp": "ts"},
            "columns": [
                {"name": "rid", "type": "string", "role": "id"},
                {"name": "ts", "type": "datetime", "role": "timestamp", "nullable": True, "required": False},
                *(
                    {"name": n, "type": t, "role": r, "nullable": True, "required": False}
                    for n, t, r in [
                        ("f", "float", "amount"),
                        ("i", "int", "count"),
                        ("b", "bool", "flag"),
                        ("c", "category", "category"),
                        ("s", "string", "text"),
                    ]
                ),
            ],
        }
    )
    layout = _Layout(
        [], {}, [], {}, tuple((c.name, c.type) for c in spec.columns if c.declared), (spec, []), {}, {}, {}
    )
    full = {"f": 1.5, "i": 3, "b": True, "c": "x", "s": "y"}
    cases = [
        {"rid": "a", "ts": dt.datetime(2025, 1, 2, 3, 4, 5, 123456), **full},
        {"rid": "a", "ts": None, **dict.fromkeys(full)},
        {"rid": "a", "ts": dt.datetime(2025, 1, 2), "f": None},  # absent optional fields
    ]
    for record in cases:
        values = {k: pd.Timestamp(v) if isinstance(v, dt.datetime) else v for k, v in record.items()} | {
            k: None for k in full if k not in record
        }  # as RiskModel._coerce_one gives them
        want = validate_frame(pd.DataFrame([record]), spec).to_dict("records")[0]
        got = _sentence_record(record, values, layout)
        assert list(got) == list(want)
        for k in want:
            assert type(got[k]) is type(want[k]) and repr(got[k]) == repr(want[k]), (k, got[k], want[k])
            if isinstance(want[k], pd.Timestamp):
                assert got[k].unit == want[k].unit


# --------------------------------------------------------------------------- predict_one(explain=True)


@pytest.mark.parametrize("kind", ["shipment", "passenger"])
@pytest.mark.parametrize("top_k", [3, 1])
def test_predict_one_explain_equals_predict_explain(request, kind, top_k):
    model = request.getfixturevalue(SHIPPED[kind])
    frame = _fresh(model, kind).iloc[:N_RECORDS]
    batch = model.predict(frame, explain=True, top_k=top_k)
    assert list(batch.columns) == [*OUTPUT_COLUMNS, "reason_codes", "reasons"]
    assert (batch["reason_codes"] != "").sum() > len(frame) // 2
    for i, record in enumerate(_records(frame, model.spec.declared_columns)):
        one = model.predict_one(record, explain=True, top_k=top_k)
        row = batch.iloc[i]
        want = {c: (str(row[c]) if c in ("record_id", "channel") else row[c]) for c in batch.columns}
        assert one == want, i
        assert list(one) == list(batch.columns)
        assert type(one["reason_codes"]) is str and type(one["reasons"]) is str
        # and without explain, exactly the plain answer
        plain = model.predict_one(record)
        assert plain == {c: one[c] for c in OUTPUT_COLUMNS}


def test_predict_one_explain_default_top_k_is_predicts(shipment_model, shipments):
    record = _records(shipments.iloc[:1], shipment_model.spec.declared_columns)[0]
    row = shipment_model.predict([record], explain=True).iloc[0]
    one = shipment_model.predict_one(record, explain=True)
    assert (one["reason_codes"], one["reasons"]) == (row["reason_codes"], row["reasons"])


# ------------------------------------------------------------------------------ batch path fallbacks


def _numbers_as_strings(model: RiskModel, record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for col in model.spec.columns:
        if col.declared and col.type in ("int", "float") and out.get(col.name) is not None:
            out[col.name] = repr(out[col.name])  # repr round-trips floats exactly
    return out


@pytest.fixture
def batch_calls(model_copy, monkeypatch) -> list[int]:
    """Record each call of ``model_copy``'s batch validation (the start of the batch path)."""
    calls: list[int] = []
    validated = RiskModel.validate

    def spy(self, records):
        calls.append(1)
        return validated(self, records)

    monkeypatch.setattr(model_copy, "validate", spy.__get__(model_copy), raising=False)
    return calls


def test_record_needing_coercion_gets_the_batch_answer(model_copy, shipments, batch_calls):
    calls = batch_calls
    records = _records(shipments.iloc[:20], model_copy.spec.declared_columns)
    for record in records:
        changed = _numbers_as_strings(model_copy, record)
        assert isinstance(changed["cif_value_usd"], str) and isinstance(changed["n_packages"], str)
        before = len(calls)
        got = model_copy.explain(changed, severity=True)
        assert len(calls) == before + 1, "a record needing coercion must take the batch path"
        _assert_same(got, model_copy.explain([changed], severity=True), 0)
        _assert_same(got, model_copy.explain(record, severity=True), 0)  # the coercion is exact
        before = len(calls)
        one = model_copy.predict_one(changed, explain=True)
        assert len(calls) > before
        assert one == model_copy.predict_one(record, explain=True)


def test_string_that_is_not_a_number_is_refused_like_the_batch(shipment_model, shipments):
    record = dict(_records(shipments.iloc[:1], shipment_model.spec.declared_columns)[0])
    record["cif_value_usd"] = "12,5 USD"
    with pytest.raises(SchemaError, match="cif_value_usd"):
        shipment_model.explain([record])
    with pytest.raises(SchemaError, match="cif_value_usd"):
        shipment_model.explain(record)
    with pytest.raises(SchemaError, match="cif_value_usd"):
        shipment_model.predict_one(record, explain=True)


@pytest.mark.parametrize("name", ["declared_at", "importer_id", "cif_value_usd", "declaration_id"])
def test_missing_required_field_raises_schema_error(shipment_model, shipments, name):
    record = _records(shipments.iloc[:1], shipment_model.spec.declared_columns)[0]
    del record[name]
    with pytest.raises(SchemaError, match=re.escape(repr(name))):
        shipment_model.explain(record)
    with pytest.raises(SchemaError, match=re.escape(repr(name))):
        shipment_model.predict_one(record, explain=True)
    record[name] = None
    with pytest.raises(SchemaError, match=re.escape(repr(name))):
        shipment_model.explain(record)


def test_list_and_frame_take_the_batch_path(model_copy, shipments, batch_calls):
    calls = batch_calls
    records = _records(shipments.iloc[:3], model_copy.spec.declared_columns)
    model_copy.explain(records[:1])
    model_copy.explain(shipments.iloc[:1])
    assert len(calls) == 2


# --------------------------------------------------------------------------------- the fast path is used


@pytest.mark.parametrize("which", ["trained", "shipped"])
def test_clean_dict_never_touches_the_batch_path(request, which, shipments, monkeypatch):
    if which == "trained":
        model_copy = copy.copy(request.getfixturevalue("shipment_model"))  # no severity head
        frame = shipments.iloc[:30]
    else:
        model_copy = copy.copy(request.getfixturevalue("shipped_model"))  # with a severity head
        frame = _fresh(model_copy, "shipment").iloc[:30]
    records = _records(frame, model_copy.spec.declared_columns)
    want = [model_copy.explain([r], severity=True) for r in records]
    want_pred = model_copy.predict(records, explain=True)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the batch path was used for a clean one-record dict")

    monkeypatch.setattr(model_copy, "validate", refuse, raising=False)
    monkeypatch.setattr(FeatureBuilder, "transform", refuse)
    monkeypatch.setattr(pd.DataFrame, "to_dict", refuse)
    for i, record in enumerate(records):
        _assert_same(model_copy.explain(record, severity=True), want[i], 0)
        one = model_copy.predict_one(record, explain=True)
        assert (one["reason_codes"], one["reasons"]) == (
            want_pred["reason_codes"].iloc[i],
            want_pred["reasons"].iloc[i],
        )
    contrib, raw, sev_contrib = model_copy.explainer().predictors()
    assert isinstance(contrib, SingleRowPredictor) and contrib.predict_type == PREDICT_CONTRIB
    assert isinstance(raw, SingleRowPredictor) and raw.predict_type == PREDICT_RAW_SCORE
    assert (sev_contrib is None) is (model_copy.severity is None)


def test_without_the_c_fast_path_the_answer_is_the_same(model_copy, shipments):
    records = _records(shipments.iloc[:30], model_copy.spec.declared_columns)
    want = [model_copy.explain(r, severity=True) for r in records]
    model_copy.explainer()._fast = False  # as when LightGBM's single-row entry points fail
    for i, record in enumerate(records):
        _assert_same(model_copy.explain(record, severity=True), want[i], 0)


def test_model_without_severity_head(shipped_model):
    model = copy.copy(shipped_model)
    model.severity = None
    frame = _fresh(shipped_model, "shipment").iloc[:20]
    batch = explain(model, frame, severity=True)
    assert batch.severity is None
    for i, record in enumerate(_records(frame, model.spec.declared_columns)):
        _assert_same(model.explain(record, severity=True), batch, i)


def test_cached_predictors_follow_replaced_estimators(shipped_model):
    model = copy.copy(shipped_model)
    frame = _fresh(shipped_model, "shipment").iloc[:5]
    record = _records(frame, model.spec.declared_columns)[0]
    before = model.explain(record, severity=True)  # caches built for the original boosters
    assert before.severity is not None
    model.estimator = copy.deepcopy(model.estimator)  # a new booster object, the same trees
    model.severity = None
    after = model.explain(record, severity=True)
    contrib, _, sev_contrib = model.explainer().predictors()
    assert contrib._booster is model.estimator.booster_ and sev_contrib is None
    assert after.severity is None
    pd.testing.assert_frame_equal(after.contributions, before.contributions, check_exact=True)
    assert after.reasons == before.reasons
    _assert_same(after, explain(model, frame, severity=True), 0)


def test_copied_and_pickled_models_explain_the_same(shipment_model, shipments):
    records = _records(shipments.iloc[:10], shipment_model.spec.declared_columns)
    used = copy.copy(shipment_model)
    want = [used.explain(r, severity=True) for r in records]
    assert "_explainer" in used.__dict__ and "_runtime" in used.__dict__
    for other in (pickle.loads(pickle.dumps(used)), copy.deepcopy(used), copy.copy(used)):
        assert "_explainer" not in other.__dict__ and "_runtime" not in other.__dict__
        for i, record in enumerate(records):
            _assert_same(other.explain(record, severity=True), want[i], 0)


def test_concurrent_one_record_explanations(shipment_model, shipments):
    cold = copy.copy(shipment_model)  # threads race on the lazily built caches too
    records = _records(shipments.iloc[:40], shipment_model.spec.declared_columns)
    batch = explain(shipment_model, shipments.iloc[:40], severity=True)
    barrier = threading.Barrier(6)

    def work(t: int) -> list[tuple[int, Explanation]]:
        barrier.wait()
        order = np.random.default_rng(t).permutation(len(records)).tolist()
        return [(i, cold.explain(records[i], severity=True)) for i in order]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(6)))
    for result in results:
        _assert_all_same([got for _, got in sorted(result, key=lambda x: x[0])], batch)


# ------------------------------------------------------------------------------ SingleRowPredictor types


def test_single_row_predictor_types_equal_booster_predict(shipment_model, shipments):
    est = shipment_model.estimator
    X = shipment_model.features.transform(shipments.iloc[:50])
    n = est.n_features_in_
    kinds = {
        PREDICT_NORMAL: {},
        PREDICT_RAW_SCORE: {"raw_score": True},
        PREDICT_CONTRIB: {"pred_contrib": True},
    }
    for predict_type, kwargs in kinds.items():
        p = SingleRowPredictor(est.booster_, est.best_iteration_, n, predict_type=predict_type)
        assert p.output_length == (n + 1 if predict_type == PREDICT_CONTRIB else 1)
        want = est.booster_.predict(X, num_iteration=est.best_iteration_, num_threads=1, **kwargs)
        for i in range(len(X)):
            got = p.predict_values(X[i].tolist())
            assert got == np.atleast_1d(want[i]).tolist()
            if predict_type != PREDICT_CONTRIB:
                assert p.predict(X[i]) == float(want[i])


def test_single_row_predictor_refuses_misuse(shipment_model):
    est = shipment_model.estimator
    with pytest.raises(ValueError, match="predict_type must be one of"):
        SingleRowPredictor(est.booster_, est.best_iteration_, est.n_features_in_, predict_type=2)
    contrib = SingleRowPredictor(est.booster_, est.best_iteration_, est.n_features_in_, PREDICT_CONTRIB)
    with pytest.raises(ValueError, match="use predict_values"):
        contrib.predict([0.0] * est.n_features_in_)


def test_field_contributions_of_one_row_equal_the_batch_rows(shipment_model):
    # one row is summed on Python floats, a batch with numpy: the same bits
    layout = shipment_model.explainer().layout
    rng = np.random.default_rng(5)
    c = rng.normal(size=(2000, len(layout.names) + 1)) * 10.0 ** rng.integers(-12, 4, size=(2000, 1))
    c[::7, 3] = 0.0
    batch = _field_contributions(c, layout)
    ones = np.concatenate([_field_contributions(c[i : i + 1], layout) for i in range(len(c))])
    np.testing.assert_array_equal(ones, batch, strict=True)
