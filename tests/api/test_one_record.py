"""predict_one: the pandas-free path for one record gives exactly the batch answer, also under threads."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore import OUTPUT_COLUMNS, SchemaError
from riskscore.synthetic import generate_passengers
from riskscore.validation import validate_frame

from .conftest import plain_records, row_dict

N_RECORDS = 300


def _assert_one_equals_batch(model, frame: pd.DataFrame) -> None:
    declared = model.spec.declared_columns
    records = plain_records(frame, declared)
    batch = model.predict(frame)
    assert len(batch) == len(records)
    # the same records as plain dicts score as the frame does
    pd.testing.assert_frame_equal(model.predict(records), batch, check_exact=True)
    mismatches = []
    for i, record in enumerate(records):
        one = model.predict_one(record)
        assert list(one) == list(OUTPUT_COLUMNS)
        assert all(type(one[c]) is float for c in ("risk_score", "p_green", "p_yellow", "p_red"))
        want = row_dict(batch, i)
        if one != want:
            mismatches.append((i, one, want))
    assert not mismatches, (
        f"{len(mismatches)} of {len(records)} records score differently one by one; first: {mismatches[0]}"
    )


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


@pytest.mark.parametrize("model_name", ["small_model", "shipped_model"])
def test_predict_one_equals_predict_bit_for_bit_shipments(request, model_name, test_window):
    model = request.getfixturevalue(model_name)
    sample = _sample(test_window, N_RECORDS, seed=7)
    assert sample["goods_description"].notna().any()
    _assert_one_equals_batch(model, sample)


def test_predict_one_equals_predict_bit_for_bit_passengers(shipped_passenger_model):
    frame = generate_passengers(N_RECORDS, seed=2025, start="2025-12-01", days=31)
    frame = validate_frame(frame[shipped_passenger_model.spec.declared_columns], "passenger")
    # passengers exercise missing values of nullable columns (land gates have no flight, no PNR)
    assert frame["flight_number"].isna().any() and frame["dwell_hours"].isna().any()
    _assert_one_equals_batch(shipped_passenger_model, frame)


def test_predict_one_results_vary(small_model, test_window):
    # guards the equality tests against a degenerate model that scores everything the same
    records = plain_records(_sample(test_window, 200, seed=8), small_model.spec.declared_columns)
    ones = [small_model.predict_one(r) for r in records]
    assert len({o["risk_score"] for o in ones}) > 100
    assert {o["channel"] for o in ones} == {"green", "yellow", "red"}


# ------------------------------------------------------------------------------------------- coercion


@pytest.fixture
def spy_batch(small_model, monkeypatch):
    """Count calls of small_model.predict (the batch path that predict_one falls back to)."""
    calls = []
    original = type(small_model).predict

    def predict(*args, **kwargs):
        calls.append(1)
        return original(small_model, *args, **kwargs)

    monkeypatch.setattr(small_model, "predict", predict, raising=False)
    return calls


def _records(small_model, test_window, n=20, seed=9):
    return plain_records(_sample(test_window, n, seed=seed), small_model.spec.declared_columns)


def _numbers_as_strings(model, record):
    out = dict(record)
    for col in model.spec.columns:
        if col.declared and col.type in ("int", "float") and out.get(col.name) is not None:
            out[col.name] = repr(out[col.name])  # repr round-trips floats exactly
    return out


def _tz_aware(model, record):
    out = dict(record)
    name = model.spec.time_column
    out[name] = out[name].replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=7)))
    return out


def _int_as_float(model, record):
    out = dict(record)
    for col in model.spec.columns:
        if col.declared and col.type == "int":
            out[col.name] = float(out[col.name])
    return out


@pytest.mark.parametrize(
    ("change", "falls_back"),
    [(_numbers_as_strings, True), (_tz_aware, True), (_int_as_float, None)],
    ids=["numbers-as-strings", "tz-aware-time", "int-as-float"],
)
def test_records_needing_coercion_get_the_batch_answer(
    small_model, test_window, spy_batch, change, falls_back
):
    records = _records(small_model, test_window)
    changed = [change(small_model, r) for r in records]
    new, old = changed[0], records[0]
    assert any(new[c] != old[c] or type(new[c]) is not type(old[c]) for c in old)
    if change is _numbers_as_strings:
        assert isinstance(changed[0]["cif_value_usd"], str) and isinstance(changed[0]["n_packages"], str)
    batch = type(small_model).predict(small_model, changed)  # not counted
    plain = type(small_model).predict(small_model, records)
    pd.testing.assert_frame_equal(batch, plain, check_exact=True)  # the coercion is exact
    for i, record in enumerate(changed):
        before = len(spy_batch)
        one = small_model.predict_one(record)
        assert one == row_dict(batch, i)
        assert one == small_model.predict_one(records[i])
        if falls_back is True:
            assert len(spy_batch) == before + 1, "a record needing coercion must take the batch path"
    assert isinstance(small_model.predict_one(changed[0])["channel"], str)


def test_string_that_is_not_a_number_is_refused_like_the_batch(small_model, test_window):
    record = dict(_records(small_model, test_window, n=1)[0], cif_value_usd="12,5 USD")
    with pytest.raises(SchemaError, match="cif_value_usd"):
        small_model.predict([record])
    with pytest.raises(SchemaError, match="cif_value_usd"):
        small_model.predict_one(record)


REQUIRED = [c.name for c in riskscore.load_spec("shipment").columns if c.declared and not c.nullable]


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_required_field_is_named(small_model, test_window, name):
    record = _records(small_model, test_window, n=1)[0]
    del record[name]
    with pytest.raises(SchemaError, match=re.escape(repr(name))):
        small_model.predict_one(record)
    record[name] = None
    with pytest.raises(SchemaError, match=re.escape(repr(name))):
        small_model.predict_one(record)


def test_missing_optional_field_gets_the_batch_answer(small_model, test_window):
    described = small_model.describe()
    # these may hold a missing value (nullable) but must be present (required): express consignees and the
    # temporary-import ledger exist on some declarations only
    nullable = ["ti_reexported_share", "consignee_id", "goods_description"]
    assert sorted(described["nullable_columns"]) == sorted(nullable)
    assert set(nullable) <= set(described["required_columns"])
    for name in nullable:
        record = _records(small_model, test_window, n=1)[0]
        as_none = dict(record, **{name: None})
        assert small_model.predict_one(as_none) == row_dict(small_model.predict([as_none]), 0)
        del record[name]
        try:
            batch = small_model.predict([record])
        except SchemaError:
            with pytest.raises(SchemaError, match=name):
                small_model.predict_one(record)
        else:
            assert small_model.predict_one(record) == row_dict(batch, 0)


@pytest.mark.parametrize("bad", [None, "D1", 42, ["a"], ("declaration_id", "D1")], ids=repr)
def test_non_dict_is_refused(small_model, bad):
    with pytest.raises(SchemaError, match="predict_one takes one record as a dict"):
        small_model.predict_one(bad)


def test_series_is_not_a_dict(small_model, test_window):
    with pytest.raises(SchemaError, match="predict_one takes one record as a dict; got Series"):
        small_model.predict_one(test_window.iloc[0])


def test_extra_fields_are_ignored(small_model, test_window):
    record = _records(small_model, test_window, n=1)[0]
    with_extra = dict(record, notes="extra", truth_violation=True, inspected="yes")
    assert small_model.predict_one(with_extra) == small_model.predict_one(record)


# ------------------------------------------------------------------------------------------- threads


def test_concurrent_calls_give_the_sequential_answers(small_model, test_window, tmp_path):
    # a fresh copy, so that the threads also race on the lazily built one-record caches
    cold = riskscore.load(small_model.save(tmp_path / "m.rsk"))
    records = plain_records(test_window, small_model.spec.declared_columns)
    n_threads, rounds = 8, 50
    plans = []
    for t in range(n_threads):
        rng = np.random.default_rng(100 + t)
        starts = rng.integers(0, len(test_window) - 20, size=rounds)
        stops = starts + rng.integers(1, 20, size=rounds)
        picks = rng.integers(0, len(records), size=rounds)
        plans.append(list(zip(starts.tolist(), stops.tolist(), picks.tolist(), strict=True)))
    # sequential answers: one call over the whole window (a record scores the same in any batch) and one
    # predict_one call per record used
    whole = small_model.predict(test_window)
    one = {k: small_model.predict_one(records[k]) for plan in plans for _, _, k in plan}
    barrier = threading.Barrier(n_threads)

    def work(t):
        barrier.wait()
        return [(cold.predict(test_window.iloc[a:b]), cold.predict_one(records[k])) for a, b, k in plans[t]]

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        results = list(pool.map(work, range(n_threads)))

    for t in range(n_threads):
        assert len(results[t]) == rounds
        for (got_frame, got_one), (a, b, k) in zip(results[t], plans[t], strict=True):
            want = whole.iloc[a:b].reset_index(drop=True)
            pd.testing.assert_frame_equal(got_frame, want, check_exact=True, obj=f"thread {t} rows {a}:{b}")
            assert got_one == one[k], (t, k)
