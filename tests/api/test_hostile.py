"""Hostile input: whatever a caller passes, predict scores it sanely or raises a SchemaError naming a column.

Strategies are built from the shipment record spec (types, min/max, closed value sets, patterns,
nullability), so valid records stay valid when the spec changes; broken records start valid and then get
one to three defects (missing and extra columns, wrong types, NaN and infinities, negative and absurd
amounts, empty, huge and control-character strings, dates out of range, repeated ids, empty batches).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import riskscore
from riskscore import OUTPUT_COLUMNS, SchemaError

from .conftest import plain_records, row_dict

SPEC = riskscore.load_spec("shipment")
DECLARED = [c for c in SPEC.columns if c.declared]
BY_NAME = {c.name: c for c in DECLARED}
NAMES = [c.name for c in DECLARED]
ID = SPEC.id_column
TIME = SPEC.time_column
NUMERIC = [c.name for c in DECLARED if c.type in ("int", "float")]
TEXT = [c.name for c in DECLARED if c.type in ("string", "category")]
UNDECLARED = [c.name for c in SPEC.columns if not c.declared]
CHANNELS = {"green", "yellow", "red"}

HOSTILE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # no "explain" phase: it re-runs a failing example many times, which costs minutes with a model
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)

# ------------------------------------------------------------------------------------------- strategies

TEXT_CHARS = st.text(min_size=1, max_size=12)


def valid_value(col) -> st.SearchStrategy[Any]:
    """Values that the spec allows for `col`."""
    if col.type == "float":
        s = st.floats(
            min_value=col.min, max_value=col.max, allow_nan=False, allow_infinity=False, allow_subnormal=False
        )
        if col.min is not None or col.max is not None:
            lo = col.min if col.min is not None else -1e6
            hi = col.max if col.max is not None else lo + 1e6
            s = st.one_of(st.floats(min_value=lo, max_value=hi), s)  # mostly realistic, sometimes extreme
    elif col.type == "int":
        lo = int(col.min) if col.min is not None else -(2**53)
        hi = int(col.max) if col.max is not None else 2**53
        s = st.integers(min_value=lo, max_value=hi)
    elif col.type == "bool":
        s = st.booleans()
    elif col.type == "datetime":
        s = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 12, 31))
    elif col.pattern is not None:
        s = st.from_regex(col.pattern, fullmatch=True)
    elif col.values is not None and not col.open:
        s = st.sampled_from(col.values)
    else:
        s = TEXT_CHARS
    return st.one_of(st.none(), s) if col.nullable else s


RECORD = st.fixed_dictionaries({c.name: valid_value(c) for c in DECLARED})


@st.composite
def valid_batches(draw, min_size=1, max_size=4) -> list[dict[str, Any]]:
    records = draw(st.lists(RECORD, min_size=min_size, max_size=max_size))
    for i, r in enumerate(records):  # ids unique within the batch
        r[ID] = f"{r[ID]}#{i}"
    return records


SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e",
    "\u202eevil\u202c",
    "\ufeff",
    "\n\r\t",
    "😀",
    "ÅÉ中文",
    "nan",
    "None",
    "NaT",
    "'; DROP TABLE x; --",
    "\ud800",  # a lone surrogate: a str Python allows but UTF-8 cannot encode
]
WRONG_TYPE = [
    "abc",
    "1,5",
    ["a"],
    ["a", 1],
    {"k": 1},
    (1, 2),
    {1, 2},
    b"bytes",
    1 + 2j,
    Decimal("1.5"),
    object(),
    dt.timedelta(days=1),
    True,
    12.5,
    -3,
]
NON_FINITE = [math.nan, math.inf, -math.inf, np.nan, np.float64("inf")]
ABSURD = [1e300, -1e300, 1.7976931348623157e308, -1.0, -0.0, -1e-300, 5e-324, 2**63, 2**70, -(2**70)]
BAD_DATES = [
    dt.datetime(1500, 1, 1),
    dt.datetime(2500, 1, 1),
    dt.date(1500, 6, 1),
    "1500-01-01",
    "2500-12-31T23:59:59",
    "0001-01-01",
    "9999-12-31",
    "yesterday",
    "2025-02-30",
    "",
    1735689600,
    pd.Timestamp("2025-06-01", tz="Asia/Ho_Chi_Minh"),
]

MUTATIONS = (
    "missing_key",
    "missing_column",
    "extra_column",
    "wrong_type",
    "non_finite",
    "absurd_number",
    "special_text",
    "long_text",
    "bad_date",
    "none",
    "duplicate_id",
)


@st.composite
def broken_batches(draw, max_size=4, max_mutations=3) -> tuple[Any, set[str], list[str]]:
    """(records, columns that a SchemaError may name, mutations applied)."""
    records = draw(valid_batches(min_size=1, max_size=max_size))
    touched: set[str] = set()
    applied: list[str] = []
    for _ in range(draw(st.integers(1, max_mutations))):
        kind = draw(st.sampled_from(MUTATIONS))
        rec = draw(st.sampled_from(records))
        applied.append(kind)
        if kind == "missing_key":
            col = draw(st.sampled_from(NAMES))
            rec.pop(col, None)
        elif kind == "missing_column":
            col = draw(st.sampled_from(NAMES))
            for r in records:
                r.pop(col, None)
        elif kind == "extra_column":
            col = draw(st.sampled_from([*UNDECLARED, "extra", "", "Declaration_ID", "cif_value_usd "]))
            rec[col] = draw(st.sampled_from([*WRONG_TYPE, *SPECIAL_TEXT, *NON_FINITE, None]))
        elif kind == "wrong_type":
            col = draw(st.sampled_from(NAMES))
            rec[col] = draw(st.sampled_from(WRONG_TYPE))
        elif kind == "non_finite":
            col = draw(st.sampled_from(NAMES))
            rec[col] = draw(st.sampled_from(NON_FINITE))
        elif kind == "absurd_number":
            col = draw(st.sampled_from(NUMERIC))
            rec[col] = draw(st.sampled_from(ABSURD))
        elif kind == "special_text":
            col = draw(st.sampled_from(NAMES))
            rec[col] = draw(st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=20)))
        elif kind == "long_text":
            col = draw(st.sampled_from(TEXT))
            rec[col] = draw(st.sampled_from(["x", "9", "Z", "\u202e", "中"])) * 10_000
        elif kind == "bad_date":
            col = TIME
            rec[col] = draw(st.sampled_from(BAD_DATES))
        elif kind == "none":
            col = draw(st.sampled_from(NAMES))
            rec[col] = None
        else:  # duplicate_id
            col = ID
            other = draw(st.sampled_from(records))
            rec[ID] = other.get(ID)
        touched.add(col)
    return records, touched, applied


# ------------------------------------------------------------------------------------------- checks


def _outcome(model, records: Any, touched: set[str] | None) -> pd.DataFrame | SchemaError:
    """Score `records`; the result must be sane, or a SchemaError naming a column."""
    n = 1 if isinstance(records, dict) else len(records)
    try:
        out = model.predict(records)
    except SchemaError as exc:
        message = str(exc)
        named = [c for c in (touched or SPEC.names()) if c and repr(c) in message]
        assert named, f"SchemaError names none of the columns {sorted(touched or [])}: {message}"
        return exc
    except Exception as exc:
        pytest.fail(f"predict raised {type(exc).__name__} instead of a SchemaError: {exc}")
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert len(out) == n
    assert set(out["channel"].astype(str)) <= CHANNELS
    assert out["channel"].notna().all()
    risk = out["risk_score"].to_numpy(dtype=np.float64)
    proba = out[["p_green", "p_yellow", "p_red"]].to_numpy(dtype=np.float64)
    assert np.isfinite(risk).all() and ((risk >= 0) & (risk <= 1)).all(), risk
    assert np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all(), proba
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    assert out["selection_reason"].notna().all()
    return out


def _one_agrees(model, record: dict[str, Any], batch: pd.DataFrame | SchemaError) -> None:
    """predict_one gives the batch answer, or raises a SchemaError when the batch did."""
    try:
        one = model.predict_one(record)
    except SchemaError as exc:
        assert isinstance(batch, SchemaError), f"predict_one refused a record predict scores: {exc}"
        return
    except Exception as exc:
        pytest.fail(f"predict_one raised {type(exc).__name__} instead of a SchemaError: {exc}")
    assert not isinstance(batch, SchemaError), f"predict_one scored a record predict refuses ({batch}): {one}"
    assert one == row_dict(batch, 0)


# ------------------------------------------------------------------------------------------- properties


class Model:
    """The small model behind a short repr (hypothesis prints every argument of a failing example)."""

    def __init__(self, model) -> None:
        self.model = model

    def __repr__(self) -> str:
        return f"<RiskModel {self.model.version}>"


@pytest.fixture(scope="module")
def model(small_model) -> Model:
    return Model(small_model)


@HOSTILE
@given(records=valid_batches())
def test_valid_records_always_score(model, records):
    out = _outcome(model.model, records, None)
    assert not isinstance(out, SchemaError), f"a record within the spec was refused: {out}"
    assert list(out["record_id"]) == [r[ID] for r in records]


@HOSTILE
@given(record=RECORD)
def test_valid_single_record_predict_one_equals_predict(model, record):
    batch = _outcome(model.model, record, None)
    assert not isinstance(batch, SchemaError), f"a record within the spec was refused: {batch}"
    _one_agrees(model.model, record, batch)


@HOSTILE
@given(case=broken_batches(), as_dict=st.booleans())
def test_broken_records_score_or_raise_schema_error(model, case, as_dict):
    records, touched, _applied = case
    if as_dict and len(records) == 1:
        records = records[0]
    _outcome(model.model, records, touched)


@HOSTILE
@given(case=broken_batches(max_size=1, max_mutations=2))
def test_broken_single_record_predict_one_agrees_with_predict(model, case):
    records, touched, _applied = case
    record = records[0]
    batch = _outcome(model.model, [record], touched)
    _one_agrees(model.model, record, batch)


def test_duplicate_ids_in_a_batch_are_refused(small_model, test_window):
    records = plain_records(test_window.head(3), NAMES)
    records[2][ID] = records[0][ID]
    with pytest.raises(SchemaError, match=rf"column '{ID}' must hold unique ids"):
        small_model.predict(records)
    frame = test_window.head(3).copy()
    frame.loc[1, ID] = frame.loc[0, ID]
    with pytest.raises(SchemaError, match=rf"column '{ID}' must hold unique ids"):
        small_model.predict(frame)


@pytest.mark.parametrize(
    "empty",
    [[], pd.DataFrame(), "frame-with-columns", "frame-with-columns-as-str"],
    ids=["empty-list", "empty-frame", "zero-rows", "zero-rows-str"],
)
def test_empty_batches(small_model, test_window, empty):
    if isinstance(empty, str):
        as_str = empty == "frame-with-columns-as-str"
        empty = test_window.head(0)
        if as_str:
            empty = empty.astype({c: str for c in TEXT})
    result = _outcome(small_model, empty, None)
    if isinstance(empty, pd.DataFrame) and len(empty.columns):
        # every column is there: an empty batch scores to an empty frame
        assert isinstance(result, pd.DataFrame) and len(result) == 0


def test_dates_out_of_range_are_refused_naming_the_column(small_model, test_window):
    record = plain_records(test_window.head(1), NAMES)[0]
    for bad in (dt.datetime(1500, 1, 1), dt.datetime(2500, 1, 1), "1500-01-01", "2500-12-31"):
        with pytest.raises(SchemaError, match=TIME):
            small_model.predict([dict(record, **{TIME: bad})])
        with pytest.raises(SchemaError, match=TIME):
            small_model.predict_one(dict(record, **{TIME: bad}))


@pytest.mark.parametrize("column", ["declaration_id", "office_code", "hs_code", "goods_description"])
def test_lone_surrogate_scores_or_is_refused_naming_the_column(small_model, test_window, column):
    record = dict(plain_records(test_window.head(1), NAMES)[0], **{column: "a\ud800b"})
    batch = _outcome(small_model, [record], {column})
    _one_agrees(small_model, record, batch)


# ------------------------------------------------------------------------------------------- categories

CATEGORY_COLUMNS = [c for c in TEXT if c != ID]


@pytest.fixture(scope="module")
def cat_batch(test_window) -> pd.DataFrame:
    return test_window.head(100).copy()


@pytest.fixture(scope="module")
def cat_reference(small_model, cat_batch) -> pd.DataFrame:
    as_str = cat_batch.astype({c: str for c in CATEGORY_COLUMNS})
    return small_model.predict(as_str)


@HOSTILE
@given(data=st.data())
def test_category_form_and_order_do_not_matter(model, cat_batch, cat_reference, data):
    frame = cat_batch.copy()
    forms = {}
    for col in CATEGORY_COLUMNS:
        form = data.draw(st.sampled_from(["str", "object", "shuffled", "superset"]), label=col)
        forms[col] = form
        values = frame[col].astype(object).where(frame[col].notna(), None)
        if form == "str":
            frame[col] = values.astype(str).where(values.notna(), None).astype("str")
        elif form == "object":
            frame[col] = values.astype(object)
        else:
            cats = sorted({v for v in values if v is not None})
            if form == "superset":
                cats += data.draw(st.lists(st.text(min_size=1, max_size=8), max_size=5, unique=True))
                cats = list(dict.fromkeys(cats))
            order = data.draw(st.permutations(cats), label=f"{col} order")
            frame[col] = pd.Categorical(values, categories=order)
    assume(any(f in ("shuffled", "superset") for f in forms.values()))
    out = model.model.predict(frame)
    pd.testing.assert_frame_equal(out, cat_reference, check_exact=True)


def test_a_text_column_given_as_categories_is_read_as_text(small_model, cat_batch, cat_reference):
    # consignee_id is a string column of the spec: a categorical holding its values is the same text
    frame = cat_batch.copy()
    frame["consignee_id"] = frame["consignee_id"].astype("category")
    assert frame["consignee_id"].notna().any()
    pd.testing.assert_frame_equal(small_model.predict(frame), cat_reference, check_exact=True)
    frame["consignee_id"] = pd.Categorical([True] * len(frame))  # a flag is no more text as a category
    with pytest.raises(SchemaError, match="consignee_id"):
        small_model.predict(frame)


def test_category_codes_do_not_leak_into_the_answer(small_model, cat_batch, cat_reference):
    # reversing the category order must change the codes but not a single score
    frame = cat_batch.copy()
    for col in CATEGORY_COLUMNS:
        if not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")  # text columns generated as strings (consignee_id)
        cats = list(frame[col].cat.categories)
        frame[col] = frame[col].cat.set_categories(cats[::-1])
    assert (frame["office_type"].cat.codes != cat_batch["office_type"].cat.codes).any()
    pd.testing.assert_frame_equal(small_model.predict(frame), cat_reference, check_exact=True)


# codes that ISO 3166 reserves for user assignment: never a real country, so never in the generated data
UNSEEN_COUNTRIES = [
    "AA",
    "ZZ",
    *(f"Q{c}" for c in "MNOPQRSTUVWXYZ"),
    *(f"X{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
]
UNSEEN_TEXT = st.text(min_size=1, max_size=20).map(lambda s: f"zz-unseen-{s}")
OPEN_UNSEEN = {
    "office_code": UNSEEN_TEXT,
    "importer_id": UNSEEN_TEXT,
    "declarant_id": UNSEEN_TEXT,
    "quantity_unit": UNSEEN_TEXT,
    "origin_country": st.sampled_from(UNSEEN_COUNTRIES),
}


@HOSTILE
@given(
    data=st.data(),
    column=st.sampled_from(sorted(OPEN_UNSEEN)),
    row=st.integers(0, 99),
)
def test_unseen_category_values_share_one_bucket(model, cat_batch, column, row, data):
    record = plain_records(cat_batch.iloc[[row]], NAMES)[0]
    first, second = data.draw(st.lists(OPEN_UNSEEN[column], min_size=2, max_size=2, unique=True))
    a = _outcome(model.model, [dict(record, **{column: first})], {column})
    b = _outcome(model.model, [dict(record, **{column: second})], {column})
    assert isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame), "an unseen category must score"
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert model.model.predict_one(dict(record, **{column: first})) == row_dict(a, 0)
