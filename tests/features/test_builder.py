"""FeatureBuilder and EventTable: time safety, batch invariance, category alignment, protected columns."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskscore.exceptions import SchemaError
from riskscore.features import EventTable, FeatureBuilder
from riskscore.spec import RecordSpec, load_spec
from riskscore.validation import validate_frame

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------ time safety

# (day, hour, importer, inspected, hit). Importers L1..L5 each appear once, always inspected and always a
# hit: their own label is the only history they could ever see, so any self or same-day leak shows.
EVENTS = [
    ("2025-03-03", 9, "A", True, True),
    ("2025-03-03", 17, "A", True, False),
    ("2025-03-03", 11, "B", True, False),
    ("2025-03-03", 8, "L1", True, True),
    ("2025-03-04", 7, "A", True, False),
    ("2025-03-04", 10, "A", False, False),
    ("2025-03-04", 23, "A", True, True),
    ("2025-03-04", 12, "B", True, True),
    ("2025-03-04", 6, "L2", True, True),
    ("2025-03-06", 15, "A", True, False),
    ("2025-03-06", 9, "B", False, False),
    ("2025-03-06", 14, "C", True, False),
    ("2025-03-06", 1, "L3", True, True),
    ("2025-03-20", 13, "A", False, False),
    ("2025-03-20", 13, "B", True, False),
    ("2025-03-20", 2, "C", True, True),
    ("2025-03-20", 22, "L4", True, True),
    ("2025-04-20", 10, "A", True, False),
    ("2025-04-20", 11, "B", False, False),
    ("2025-04-20", 12, "C", True, False),
    ("2025-04-20", 16, "L5", True, True),
]


@pytest.fixture(scope="module")
def small_history(world):
    """EVENTS as valid shipments (other fields from generated records), in shuffled row order."""
    base = world.shipments.iloc[: len(EVENTS)].copy().reset_index(drop=True)
    ev = pd.DataFrame(EVENTS, columns=["day", "hour", "importer", "inspected", "hit"])
    base["declared_at"] = pd.to_datetime(ev["day"]) + pd.to_timedelta(ev["hour"], unit="h")
    base["importer_id"] = ev["importer"].to_numpy()
    base["hs_code"] = "851712"  # one HS code for all: the hs history counts every earlier-day record
    order = np.random.default_rng(4).permutation(len(base))
    frame = validate_frame(base.iloc[order].reset_index(drop=True), "shipment")
    ev = ev.iloc[order].reset_index(drop=True)
    for column in ("declarant_id", "hs_code", "origin_country", "office_code"):  # the backoff levels' keys
        ev[column] = frame[column].astype(str).to_numpy()
    return frame, ev


IMPORTER_BACKOFF = ("declarant_id", "hs_code", "origin_country", "office_code")  # the built-in spec's


def _by_hand(
    ev: pd.DataFrame,
    key: str,
    *,
    same_day_counts: bool,
    smoothing: float = 20.0,
    backoff: tuple[str, ...] = IMPORTER_BACKOFF,
):
    """History features from the records of strictly earlier days (or, for contrast, up to the same day).

    The hit rate is shrunk toward the backoff levels' rates (finest first), each toward the next coarser,
    the coarsest toward the overall rate.
    """
    day = pd.to_datetime(ev["day"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    keys = ev[key].to_numpy() if key != "all" else np.zeros(len(ev))
    insp, hit = ev["inspected"].to_numpy(), ev["hit"].to_numpy() & ev["inspected"].to_numpy()
    base = hit.sum() / insp.sum()
    out = {"count": [], "hit_rate": [], "days_since_first": [], "count_7d": [], "count_90d": []}
    for i in range(len(ev)):
        earlier = (day <= day[i]) if same_day_counts else (day < day[i])
        prior = (keys == keys[i]) & earlier
        rate = base
        for level in reversed(backoff):
            same = (ev[level].to_numpy() == ev[level].to_numpy()[i]) & earlier
            rate = (hit[same].sum() + smoothing * rate) / (insp[same].sum() + smoothing)
        out["count"].append(prior.sum())
        out["hit_rate"].append((hit[prior].sum() + smoothing * rate) / (insp[prior].sum() + smoothing))
        out["days_since_first"].append(day[i] - day[prior].min() if prior.any() else np.nan)
        out["count_7d"].append((prior & (day >= day[i] - 7)).sum())
        out["count_90d"].append((prior & (day >= day[i] - 90)).sum())
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}, base


def _history_columns(fb: FeatureBuilder) -> list[str]:
    prefixes = tuple(f"{f.name}_" for f in fb.spec.features if f.kind == "history")
    other = set(fb.spec.names()) | {f.name for f in fb.spec.features}
    return [c for c in fb.feature_names_ if c.startswith(prefixes) and c not in other]


def _fit_small(small_history):
    frame, ev = small_history
    fb = FeatureBuilder("shipment")
    X = fb.fit_transform(frame, inspected=ev["inspected"].to_numpy(), hits=ev["hit"].to_numpy())
    return fb, pd.DataFrame(X, columns=fb.feature_names_), ev


def test_history_uses_only_earlier_days(small_history):
    fb, feats, ev = _fit_small(small_history)
    expected, base = _by_hand(ev, "importer", same_day_counts=False)
    assert fb.hit_rate_ == pytest.approx(base)
    for name, values in expected.items():
        np.testing.assert_allclose(feats[f"importer_{name}"], values, rtol=1e-12, err_msg=name)
    # importer x HS has one HS code here, so its counts equal the importer history's; its rate backs off
    # to the importer's own, then to the HS code's
    for name in ("count", "days_since_first"):
        np.testing.assert_allclose(feats[f"importer_hs_{name}"], expected[name], rtol=1e-12)
    pair, _ = _by_hand(ev, "importer", same_day_counts=False, backoff=("importer", "hs_code"))
    np.testing.assert_allclose(feats["importer_hs_hit_rate"], pair["hit_rate"], rtol=1e-12)
    # without backoff levels the prior is the overall rate: the contrast shows the levels are used
    flat, _ = _by_hand(ev, "importer", same_day_counts=False, backoff=())
    assert not np.allclose(feats["importer_hit_rate"], flat["hit_rate"])
    # the HS history counts every record of earlier days and none of the same day
    everyone, _ = _by_hand(ev, "all", same_day_counts=False)
    np.testing.assert_array_equal(feats["hs_count"], everyone["count"])


def test_planted_leak_does_not_help(small_history):
    _, feats, ev = _fit_small(small_history)
    leak = ev["importer"].str.startswith("L").to_numpy()
    # every leaking record is a hit with a unique importer: without self/same-day history it gets the
    # prior of its backoff levels, from earlier days only
    np.testing.assert_array_equal(feats["importer_count"][leak], 0.0)
    honest, _ = _by_hand(ev, "importer", same_day_counts=False)
    np.testing.assert_allclose(feats["importer_hit_rate"][leak], honest["hit_rate"][leak], rtol=1e-12)
    assert feats["importer_days_since_first"][leak].isna().all()
    # ...and a leaky (same day, self included) history would have given them more: the test can tell
    leaky, _ = _by_hand(ev, "importer", same_day_counts=True)
    assert (leaky["hit_rate"][leak] > feats["importer_hit_rate"][leak].to_numpy()).all()
    assert (leaky["count"][leak] == 1).all()


def test_same_day_records_do_not_see_each_other(small_history):
    _, feats, ev = _fit_small(small_history)
    a_day2 = ((ev["importer"] == "A") & (ev["day"] == "2025-03-04")).to_numpy()
    # three A records on 2025-03-04 (one a late-evening hit) see exactly the two A records of 2025-03-03
    assert a_day2.sum() == 3
    np.testing.assert_array_equal(feats["importer_count"][a_day2], 2.0)
    # their rates come from earlier days only (their backoff levels differ, so the values may too)
    honest, _ = _by_hand(ev, "importer", same_day_counts=False)
    np.testing.assert_allclose(feats["importer_hit_rate"][a_day2], honest["hit_rate"][a_day2], rtol=1e-12)
    first_day = (ev["day"] == "2025-03-03").to_numpy()
    np.testing.assert_array_equal(feats["hs_count"][first_day], 0.0)


def test_scoring_history_is_the_fitted_history(small_history):
    """transform on later records sees all fitted records; on a fitted day it sees only earlier days."""
    fb, feats, ev = _fit_small(small_history)
    frame, _ = small_history
    # a record on a day after all history sees every record of its importer
    later = frame.copy()
    later["declared_at"] = pd.Timestamp("2025-05-01 10:00")
    later["declaration_id"] = [f"NEW{i}" for i in range(len(later))]
    Xl = pd.DataFrame(fb.transform(validate_frame(later, "shipment")), columns=fb.feature_names_)
    counts = ev["importer"].value_counts()
    np.testing.assert_array_equal(Xl["importer_count"], ev["importer"].map(counts).to_numpy(dtype=float))
    # transforming the training records again gives their training history features (same strictly-earlier
    # rule through the stored table); references differ by design (training leaves the record itself out)
    again = pd.DataFrame(fb.transform(frame), columns=fb.feature_names_)
    history = _history_columns(fb)
    # importer: count, hit rate, days since first, 7d, 90d, spike (6); declarant, hs, origin: count and
    # hit rate (2 each); importer x HS: count, hit rate, days since first (3) -> 15
    assert len(history) == 15
    np.testing.assert_array_equal(again[history], feats[history])


# ----------------------------------------------------------------------------------------- event tables

KEYS = np.array([0, 1, 12345, 2**63, 2**64 - 1, 987654321987654321, 7, 2**32], dtype=np.uint64)

event_st = st.tuples(st.integers(0, 5), st.integers(0, 80), st.booleans(), st.booleans())
events_st = st.lists(event_st, min_size=0, max_size=60)


def _table(events):
    if not events:
        z = np.zeros(0, np.int64)
        return EventTable.build(np.zeros(0, np.uint64), z, z.astype(bool), z.astype(bool))
    k, d, i, h = (np.array(c) for c in zip(*events, strict=True))
    return EventTable.build(KEYS[k], d.astype(np.int64), i.astype(bool), (h & i).astype(bool))


def _assert_tables_equal(a: EventTable, b: EventTable):
    for name in ("keys", "start", "day", "cum"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@PROPERTY
@given(
    events=st.lists(event_st, min_size=1, max_size=60),  # the empty table: test below
    as_of=st.integers(0, 100),
    keep=st.integers(1, 60),
    queries=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 40)), min_size=1, max_size=20),
    data=st.data(),
)
def test_compact_gives_identical_lookups_after_the_cutoff(events, as_of, keep, queries, data):
    windows = tuple(data.draw(st.lists(st.integers(1, keep), min_size=0, max_size=3, unique=True)))
    full = _table(events)
    small = full.compact(as_of, keep)
    qk = KEYS[np.array([q[0] for q in queries])]
    qd = np.array([as_of + q[1] for q in queries], dtype=np.int64)
    a, b = full.lookup(qk, qd, windows), small.lookup(qk, qd, windows)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert len(small.day) <= len(full.day)


def test_lookup_on_an_empty_table_finds_no_history():
    empty = _table([])
    h = empty.lookup(KEYS[[0, 1]], np.array([5, 6]), windows=(7,))
    np.testing.assert_array_equal(h["count"], [0, 0])
    np.testing.assert_array_equal(h["hits"], [0, 0])
    np.testing.assert_array_equal(h["count_7d"], [0, 0])
    assert np.isnan(h["days_since_first"]).all()


def test_compact_really_compacts():
    events = [(0, d, True, d % 3 == 0) for d in range(50)]
    full = _table(events)
    small = full.compact(50, 10)
    assert len(small.day) == 11  # one collapsed row for days 0..39, then days 40..49
    np.testing.assert_array_equal(small.cum[-1], full.cum[-1])


@PROPERTY
@given(events=events_st, side=st.data())
def test_merge_equals_build_of_all_events(events, side):
    mask = side.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    left = [e for e, m in zip(events, mask, strict=True) if m]
    right = [e for e, m in zip(events, mask, strict=True) if not m]
    _assert_tables_equal(_table(left).merge(_table(right)), _table(events))


@PROPERTY
@given(events=events_st)
def test_increments_invert_from_counts(events):
    table = _table(events)
    _assert_tables_equal(EventTable.from_counts(*table.increments()), table)


def test_lookup_by_hand():
    # entity 1: day 10 (inspected hit), day 12 (inspected, no hit), day 12 (not inspected)
    t = _table([(1, 10, True, True), (1, 12, True, False), (1, 12, False, False), (2, 11, False, False)])
    h = t.lookup(KEYS[[1, 1, 1, 1, 3]], np.array([10, 11, 12, 13, 13]), windows=(1,))
    np.testing.assert_array_equal(h["count"], [0, 1, 1, 3, 0])
    np.testing.assert_array_equal(h["inspected"], [0, 1, 1, 2, 0])
    np.testing.assert_array_equal(h["hits"], [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(h["days_since_first"], [np.nan, 1, 2, 3, np.nan])
    np.testing.assert_array_equal(h["count_1d"], [0, 1, 0, 2, 0])


# ------------------------------------------------------------------------------------------ transform


@pytest.fixture(scope="module")
def scoring_pool(world):
    """400 raw records of the shipment test window and their features scored as one batch."""
    pool = world.shipment_result.test.iloc[:400].reset_index(drop=True)
    fb = world.shipment_model.features
    return pool, fb, fb.transform(validate_frame(pool, "shipment"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(idx=st.lists(st.integers(0, 399), min_size=1, max_size=30, unique=True))
def test_transform_is_batch_invariant(scoring_pool, idx):
    pool, fb, full = scoring_pool
    sub = validate_frame(pool.iloc[idx].reset_index(drop=True), "shipment")  # categories of the subset only
    np.testing.assert_array_equal(fb.transform(sub), full[idx])


def test_single_record_features_equal_batch_features(scoring_pool):
    pool, fb, full = scoring_pool
    for i in (0, 57, 399):
        one = validate_frame(pool.iloc[[i]].reset_index(drop=True), "shipment")
        np.testing.assert_array_equal(fb.transform(one)[0], full[i])


def test_category_dtype_and_order_do_not_matter(scoring_pool):
    pool, fb, _ = scoring_pool
    frame = validate_frame(pool, "shipment")
    cat_cols = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    assert {"office_code", "importer_id", "hs_code", "origin_country"} <= set(cat_cols)
    as_str = frame.copy()
    shuffled = frame.copy()
    rng = np.random.default_rng(0)
    for c in cat_cols:
        as_str[c] = frame[c].astype(object).where(frame[c].notna(), None)
        cats = [*frame[c].cat.categories, f"unused_{c}"]
        shuffled[c] = frame[c].cat.set_categories([cats[i] for i in rng.permutation(len(cats))])
    expected = fb.transform(frame)
    np.testing.assert_array_equal(fb.transform(as_str), expected)
    np.testing.assert_array_equal(fb.transform(shuffled), expected)
    # the inputs really differ in codes: the same value has another code in the shuffled frame
    assert any((shuffled[c].cat.codes != frame[c].cat.codes).any() for c in cat_cols)


def test_unseen_and_rare_categories_go_to_the_bucket(world):
    frame = validate_frame(world.shipments.iloc[:2_000], "shipment").copy()
    frame["office_code"] = frame["office_code"].astype(object)
    frame.loc[:4, "office_code"] = "RARE01"  # 5 records < min_category_count
    frame = validate_frame(frame, "shipment")
    fb = FeatureBuilder("shipment", min_category_count=20)
    fb.fit_transform(frame)
    kept = fb.categorical_["office_code"]
    assert "RARE01" not in kept and len(kept) >= 5
    col = fb.feature_names_.index("office_code")
    probe = frame.iloc[: len(kept) + 2].copy()
    probe["office_code"] = [*kept, "RARE01", "NEVER_SEEN"]
    probe["declaration_id"] = [f"P{i}" for i in range(len(probe))]
    codes = fb.transform(validate_frame(probe, "shipment"))[:, col]
    np.testing.assert_array_equal(codes[: len(kept)], np.arange(len(kept)))
    np.testing.assert_array_equal(codes[len(kept) :], [len(kept), len(kept)])


# ---------------------------------------------------------------------------------- protected columns

PROTECTED = ("nationality", "sex", "age", "residence_country", "doc_issuing_country")


def test_protected_attributes_excluded_by_default(world):
    spec = load_spec("passenger")
    assert set(PROTECTED) <= set(spec.protected_columns)
    names = world.passenger_model.features.feature_names_
    assert not set(PROTECTED) & set(names)
    assert not any(n.startswith(p) for n in names for p in PROTECTED)


def test_protected_attributes_only_when_named_and_logged(world, caplog):
    frame = validate_frame(world.passengers.iloc[:3_000], "passenger")
    with caplog.at_level(logging.WARNING, logger="riskscore"):
        FeatureBuilder("passenger").fit_transform(frame)
    assert not [r for r in caplog.records if "protected" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="riskscore"):
        fb = FeatureBuilder("passenger", include_protected=("nationality", "age"))
        fb.fit_transform(frame)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'nationality'" in m and "protected" in m for m in warned)
    assert any("'age'" in m and "protected" in m for m in warned)
    assert {"nationality", "age"} <= set(fb.feature_names_)
    assert not {"sex", "residence_country", "doc_issuing_country"} & set(fb.feature_names_)


def test_include_protected_with_a_non_protected_column_is_refused():
    with pytest.raises(SchemaError, match=r"include_protected names \['route'\].*not protected columns"):
        FeatureBuilder("passenger", include_protected=("route",))


# -------------------------------------------------------------------------------------- persistence


def test_to_dict_from_dict_round_trip(world, scoring_pool):
    pool, fb, expected = scoring_pool
    state = json.loads(json.dumps(fb.to_dict()))  # through JSON, as in a model file
    again = FeatureBuilder.from_dict(world.shipment_model.spec, state)
    assert again.feature_names_ == fb.feature_names_
    assert again.categorical_features == fb.categorical_features
    np.testing.assert_array_equal(again.transform(validate_frame(pool, "shipment")), expected)


def test_from_dict_with_another_spec_is_refused(world):
    spec = world.shipment_model.spec
    d = spec.to_dict()
    other = RecordSpec.from_dict({**d, "spec": {**d["spec"], "version": d["spec"]["version"] + 1}})
    assert other.fingerprint() != spec.fingerprint()
    with pytest.raises(SchemaError, match="fitted on a different version of spec 'shipment'"):
        FeatureBuilder.from_dict(other, world.shipment_model.features.to_dict())
