"""The compiled one-record path (riskscore._onerecord): each shortcut reproduces what numpy and pandas give.

predict_one lays the batch arithmetic out as plain-Python steps; these tests pin the pieces that could
drift from the batch path on their own: pandas' string hash, numpy's interpolation, the history lookup
for records dated inside the stored history, time values in every accepted form, a plan rebuilt after the
history changes, and models that are copied or pickled after use.
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskscore import SchemaError
from riskscore._hashing import text_hasher
from riskscore._scalar import interp_one
from riskscore.policy import _policy_key, _uniform_from_ids

from .conftest import plain_records, row_dict

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20))
def test_text_hash_is_pandas_hash(values):
    hasher = text_hasher()
    want = pd.util.hash_array(np.array(values, dtype=object), categorize=False)
    assert [hasher(v) for v in values] == [int(h) for h in want]
    assert [hasher(v) for v in values] == [int(h) for h in want]  # memoised: the same again


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=10), st.integers(0, 2**31))
def test_keyed_text_hash_is_pandas_hash(values, seed):
    hasher = text_hasher(_policy_key(seed), memo=False)
    want = pd.util.hash_array(np.array(values, dtype=object), hash_key=_policy_key(seed), categorize=False)
    assert [hasher(v) for v in values] == [int(h) for h in want]


def test_policy_uniform_one_equals_batch(small_model, test_window):
    ids = test_window["declaration_id"].astype(str).tolist()[:500]
    batch = _uniform_from_ids(np.array(ids, dtype=object), small_model.policy.seed)
    assert [small_model.policy._uniform_one(i) for i in ids] == batch.tolist()


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(finite, finite), min_size=1, max_size=30),
    st.lists(st.one_of(finite, st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")))),
    st.data(),
)
def test_interp_one_is_numpy_interp(knots, xs, data):
    xp = sorted(k[0] for k in knots)
    fp = [k[1] for k in knots]
    # also query exactly at the knots and between equal neighbours (numpy's special cases)
    xs = xs + data.draw(st.lists(st.sampled_from(xp), max_size=5))
    want = np.interp(np.array(xs, dtype=np.float64), np.array(xp), np.array(fp))
    got = [interp_one(x, xp, fp) for x in xs]
    np.testing.assert_array_equal(np.array(got, dtype=np.float64), want)
    assert all(type(g) is float for g in got)


def test_interp_one_with_repeated_knots_matches_numpy():
    xp = [0.0, 0.1, 0.1, 0.1, 0.5, 1.0, 1.0]
    fp = [0.0, 0.02, 0.05, 0.07, 0.3, 0.9, 0.95]
    xs = np.linspace(-0.5, 1.5, 2001).tolist() + xp
    np.testing.assert_array_equal([interp_one(x, xp, fp) for x in xs], np.interp(xs, xp, fp))


def test_records_dated_inside_the_stored_history_score_as_the_batch(small_model, test_window):
    """Declarations dated back into the history (late lodging, replays) take the searched lookup."""
    frame = test_window.iloc[:200].copy()
    days_back = np.random.default_rng(3).integers(0, 400, len(frame))
    frame["declared_at"] = frame["declared_at"] - pd.to_timedelta(days_back, unit="D")
    history_end = pd.Timestamp("1970-01-01") + pd.Timedelta(days=small_model.features.last_day_)
    assert (frame["declared_at"] <= history_end).mean() > 0.5
    batch = small_model.predict(frame)
    records = plain_records(frame, small_model.spec.declared_columns)
    for i, record in enumerate(records):
        assert small_model.predict_one(record) == row_dict(batch, i), f"record {i}"


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda t: t, id="datetime"),
        pytest.param(pd.Timestamp, id="Timestamp"),
        pytest.param(lambda t: pd.Timestamp(t).as_unit("s"), id="Timestamp-seconds"),
        pytest.param(lambda t: np.datetime64(t, "us"), id="datetime64"),
        pytest.param(lambda t: t.isoformat(), id="ISO-text"),
    ],
)
def test_time_in_any_accepted_form_scores_the_same(small_model, test_window, form):
    frame = test_window.iloc[:30].copy()
    frame["declared_at"] = frame["declared_at"].dt.floor("s")  # so that every form holds the same instant
    records = plain_records(frame, small_model.spec.declared_columns)
    batch = small_model.predict(frame)
    for i, record in enumerate(records):
        t = record["declared_at"]
        assert isinstance(t, dt.datetime)
        assert small_model.predict_one({**record, "declared_at": form(t)}) == row_dict(batch, i)


def test_plan_follows_extended_history(small_result, test_window):
    """After extend_history the one-record path uses the new history, as the batch path does."""
    model = copy.deepcopy(small_result.model)
    records = plain_records(test_window.iloc[:100], model.spec.declared_columns)
    before = [model.predict_one(r) for r in records]  # builds the plan on the old history
    later = test_window.iloc[:2000]
    model.features.extend_history(later, inspected=np.ones(len(later), bool), hits=np.ones(len(later), bool))
    batch = model.predict(test_window.iloc[:100])
    after = [model.predict_one(r) for r in records]
    assert after == [row_dict(batch, i) for i in range(len(records))]
    assert after != before  # every record's importer now has 2,000 more (all positive) inspections


def test_copied_and_pickled_models_score_the_same(small_model, test_window):
    records = plain_records(test_window.iloc[:50], small_model.spec.declared_columns)
    want = [small_model.predict_one(r) for r in records]  # caches built, some hold C handles
    for other in (copy.deepcopy(small_model), pickle.loads(pickle.dumps(small_model))):
        assert [other.predict_one(r) for r in records] == want


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("quantity", 10**400),  # an int beyond float range
        ("quantity", np.float64("nan")),  # numpy NaN in a required number
        ("importer_compliance_level", 2.5),  # not a whole number
        ("importer_compliance_level", 7),  # above the declared maximum
        ("aeo", 1),  # a number for a flag
        ("hs_code", "85171"),  # does not match the pattern
        ("office_type", "moon"),  # not among the closed values
        ("declared_at", dt.datetime(2025, 12, 1, tzinfo=dt.UTC)),  # a time with a zone
    ],
    ids=lambda v: repr(v)[:30],
)
def test_values_the_checks_do_not_take_get_the_batch_answer(small_model, test_window, column, value):
    """The generated checks hand anything unusual to the batch path: its answer, or its SchemaError."""
    record = {**plain_records(test_window.iloc[:1], small_model.spec.declared_columns)[0], column: value}
    assert small_model.record_features(record) is None
    try:
        want = row_dict(small_model.predict([record]), 0)
    except SchemaError as exc:
        with pytest.raises(SchemaError, match=column):
            small_model.predict_one(record)
        assert column in str(exc)
    else:
        assert small_model.predict_one(record) == want
