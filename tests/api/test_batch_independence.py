"""One record's answer never depends on the rest of its batch, and the input contract holds value by value.

The property test takes a record from the small model's test window, rewrites some fields in forms a
caller might send (numbers as floats or numeric strings, ids as integral floats, codes with stray spaces
or in lower case, flags as 0/1 or "1"/"0", times as strings or tz-aware objects, hostile values such as
True for an amount, b"123", "now", a non-ISO date, a missing key), surrounds it with valid companions whose
fields take other valid forms (so the batch's column dtypes change), and asserts that ``predict([a, r, b])``
row r, ``predict([r])`` and ``predict_one(r)`` agree in every output field, or that all three refuse r.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import riskscore
from riskscore import OUTPUT_COLUMNS, ParameterError, SchemaError

from .conftest import plain_records, row_dict

SPEC = riskscore.load_spec("shipment")
DECLARED = {c.name: c for c in SPEC.columns if c.declared}
ID = SPEC.id_column
TIME = SPEC.time_column

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
_ABSENT = object()


@pytest.fixture(scope="module")
def pool(test_window) -> list[dict[str, Any]]:
    return plain_records(test_window.head(300))


def valid_forms(name: str, value: Any) -> list[Any]:
    """Other forms of a valid value that the contract accepts and that mean the same thing."""
    col = DECLARED[name]
    if value is None:
        return [None, float("nan")]
    if col.type in ("int", "float"):
        forms = [value, float(value), str(value), np.float64(value)]
        if float(value).is_integer():
            forms.append(int(value))
        return forms
    if col.type == "bool":
        return [value, int(value), "true" if value else "false", "1" if value else "0", np.bool_(value)]
    if col.type == "datetime":
        ts = pd.Timestamp(value)
        return [
            value,
            ts,
            ts.isoformat(),
            ts.tz_localize("UTC"),
            ts.tz_localize("UTC").tz_convert("Asia/Ho_Chi_Minh"),
        ]
    forms = [value]
    if value.isdigit() and not value.startswith("0"):
        forms += [int(value), float(value)]
    if col.normalize:
        forms.append(f" {value} ")
        if "upper" in col.normalize:
            forms.append(value.lower())
    return forms


HOSTILE = [
    True,
    False,
    b"123",
    "now",
    "today",
    "02/01/2025",
    "13/01/2025",
    "",
    " ",
    _ABSENT,
    None,
    29.0,
    29.5,
    [1],
]


@st.composite
def variant(draw, record: dict[str, Any], hostile: bool) -> dict[str, Any]:
    out = dict(record)
    names = draw(st.lists(st.sampled_from(sorted(DECLARED)), min_size=1, max_size=4, unique=True))
    for name in names:
        choices = valid_forms(name, record[name])
        if hostile:
            choices = choices + HOSTILE
        value = draw(st.sampled_from(choices))
        if value is _ABSENT:
            out.pop(name)
        else:
            out[name] = value
    return out


def outcome(call):
    try:
        return call()
    except SchemaError:
        return "refused"


@PROPERTY
@given(data=st.data())
def test_a_record_scores_the_same_alone_in_a_batch_and_one_by_one(small_model, pool, data):
    i, j, k = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=3, max_size=3, unique=True))
    r = data.draw(variant(pool[i], hostile=True), label="record")
    a = data.draw(variant(pool[j], hostile=False), label="before")
    b = data.draw(variant(pool[k], hostile=False), label="after")

    one = outcome(lambda: small_model.predict_one(r))
    alone = outcome(lambda: row_dict(small_model.predict([r]), 0))
    batch = outcome(lambda: row_dict(small_model.predict([a, r, b]), 1))
    if one == "refused" or alone == "refused" or batch == "refused":
        assert one == alone == batch == "refused", (one, alone, batch)
        return
    for column in OUTPUT_COLUMNS:
        assert one[column] == alone[column] == batch[column], (
            column,
            one[column],
            alone[column],
            batch[column],
        )


# ------------------------------------------------------------------------------------ the reviewed cases


def test_an_integral_float_id_is_the_same_id_alone_and_beside_strings(small_model, pool):
    r = {**pool[1], ID: 29.0}
    assert small_model.predict_one(r)["record_id"] == "29"
    assert small_model.predict([pool[0], r, pool[2]])["record_id"].tolist()[1] == "29"
    r2 = {**pool[1], ID: 29.5}
    assert small_model.predict([pool[0], r2])["record_id"].tolist()[1] == "29.5"
    assert small_model.predict_one(r2)["record_id"] == "29.5"


def test_a_float_hs_code_is_read_the_same_alone_and_beside_string_codes(small_model, pool):
    code = pool[1]["hs_code"]
    r = {**pool[1], "hs_code": float(code)}
    if code.startswith("0"):
        pytest.skip("a leading zero cannot be written as a number")
    alone = small_model.predict_one(r)
    beside = row_dict(small_model.predict([pool[0], r]), 1)
    assert alone == beside == small_model.predict_one(pool[1]) | {"record_id": alone["record_id"]}


def test_a_record_lacking_a_required_key_is_refused_alone_and_in_a_list(small_model, pool):
    r = dict(pool[1])
    del r["goods_description"]
    with pytest.raises(SchemaError, match="goods_description"):
        small_model.predict_one(r)
    with pytest.raises(
        SchemaError, match=r"record 1 lacks field 'goods_description'.*None when the value is unknown"
    ):
        small_model.predict([pool[0], r])
    # None is the way to say "unknown" for a nullable field, alone and in a list
    r["goods_description"] = None
    assert small_model.predict_one(r) == row_dict(small_model.predict([pool[0], r]), 1)


@pytest.mark.parametrize("word", ["now", "today", "Yesterday", " tomorrow "])
def test_relative_times_are_refused_everywhere(small_model, pool, word):
    r = {**pool[1], TIME: word}
    match = r"column 'declared_at' must be a date/time of the record itself.*Relative words are refused"
    with pytest.raises(SchemaError, match=match):
        small_model.predict_one(r)
    with pytest.raises(SchemaError, match=match):
        small_model.predict([pool[0], r])
    frame = pd.DataFrame([pool[0], r])
    frame[TIME] = frame[TIME].astype(object)
    with pytest.raises(SchemaError, match=match):
        small_model.predict(frame)


@pytest.mark.parametrize("text", ["02/01/2025", "13/01/2025", "1 Feb 2025", "01-02-2025"])
def test_non_iso_dates_are_refused_not_guessed(small_model, pool, text):
    r = {**pool[1], TIME: text}
    with pytest.raises(SchemaError, match=r"ISO 8601.*set `format` for the column in the spec"):
        small_model.predict_one(r)
    with pytest.raises(SchemaError, match=r"ISO 8601"):
        small_model.predict([{**pool[0], TIME: "2025-02-01"}, r])


def test_a_column_format_reads_day_first_dates():
    spec = riskscore.RecordSpec.from_dict(
        {
            "spec": {"name": "mini", "version": 1, "id": "id", "timestamp": "at"},
            "columns": [
                {"name": "id", "type": "string", "role": "id"},
                {"name": "at", "type": "datetime", "role": "timestamp", "format": "%d/%m/%Y"},
            ],
        }
    )
    frame = riskscore.validate_frame(
        pd.DataFrame({"id": ["a", "b"], "at": ["02/01/2025", "13/01/2025"]}), spec
    )
    assert frame["at"].tolist() == [pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-13")]
    with pytest.raises(SchemaError, match=r"column 'at' must be a date/time in the layout '%d/%m/%Y'"):
        riskscore.validate_frame(pd.DataFrame({"id": ["a"], "at": ["2025-01-02"]}), spec)
    assert spec.to_dict()["columns"][1]["format"] == "%d/%m/%Y"
    with pytest.raises(riskscore.SpecError, match="format applies only to datetime columns"):
        riskscore.RecordSpec.from_dict(
            {
                "spec": {"name": "m", "version": 1, "id": "id", "timestamp": "at"},
                "columns": [
                    {"name": "id", "type": "string", "role": "id", "format": "%Y"},
                    {"name": "at", "type": "datetime", "role": "timestamp"},
                ],
            }
        )


@pytest.mark.parametrize("value", [True, False, np.bool_(True), b"123", bytearray(b"1")])
def test_booleans_and_bytes_are_not_numbers(small_model, pool, value):
    r = {**pool[1], "cif_value_usd": value}
    with pytest.raises(SchemaError, match=r"column 'cif_value_usd' must be a number; row 0"):
        small_model.predict_one(r)
    with pytest.raises(SchemaError, match=r"column 'cif_value_usd' must be a number; row 1"):
        small_model.predict([pool[0], r])
    if isinstance(value, bool):  # a whole bool column too
        full = pd.DataFrame([pool[0]]).assign(cif_value_usd=[value])
        with pytest.raises(SchemaError, match=r"column 'cif_value_usd' must be a number"):
            small_model.predict(full)


@pytest.mark.parametrize(
    ("text", "expected"), [("1", True), ("0", False), (" TRUE ", True), ("false", False)]
)
def test_one_and_zero_strings_are_booleans_as_the_contract_says(small_model, pool, text, expected):
    r = {**pool[1], "aeo": text}
    assert small_model.predict_one(r) == small_model.predict_one({**pool[1], "aeo": expected})
    assert row_dict(small_model.predict([pool[0], r]), 1) == small_model.predict_one(
        {**pool[1], "aeo": expected}
    )


@pytest.mark.parametrize("text", ["yes", "2", "t"])
def test_other_strings_are_not_booleans(small_model, pool, text):
    with pytest.raises(SchemaError, match=r"column 'aeo' must be true or false.*'1'/'0'"):
        small_model.predict_one({**pool[1], "aeo": text})


@pytest.mark.parametrize("value", [b"IM1", [1], {"a": 1}, True, dt.date(2025, 1, 1)])
def test_text_columns_refuse_values_that_are_not_text(small_model, pool, value):
    with pytest.raises(SchemaError, match=r"column 'importer_id' must hold text"):
        small_model.predict([pool[0], {**pool[1], "importer_id": value}])
    with pytest.raises(SchemaError, match=r"column 'importer_id' must hold text"):
        small_model.predict_one({**pool[1], "importer_id": value})


@pytest.mark.parametrize("top_k", [0, -1, "3", 2.0, True, None])
def test_top_k_must_be_a_whole_number_of_reasons(small_model, pool, top_k):
    with pytest.raises(ParameterError, match=rf"top_k must be a whole number of reasons >= 1; got {top_k!r}"):
        small_model.predict(pool[:2], explain=True, top_k=top_k)
    with pytest.raises(ParameterError, match="top_k must be a whole number"):
        small_model.predict_one(pool[0], explain=True, top_k=top_k)
    with pytest.raises(ParameterError, match="top_k must be a whole number"):
        small_model.explain(pool[:2], top_k=top_k)


def test_empty_and_full_results_have_the_same_dtypes(small_model, test_window):
    full = small_model.predict(test_window.head(3))
    empty = small_model.predict(test_window.head(0))
    assert len(empty) == 0
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert str(full["record_id"].dtype) == "str"


def test_a_pandas_series_is_one_record(small_model, test_window, pool):
    assert row_dict(small_model.predict(test_window.iloc[4]), 0) == small_model.predict_one(pool[4])


# ------------------------------------------------------------------------- entity ids and their history


def test_entity_ids_are_normalised_in_every_path(small_model, pool):
    r = pool[5]
    messy = {
        **r,
        "importer_id": f"  {r['importer_id'].lower()} ",
        "declarant_id": r["declarant_id"].lower() + " ",
    }
    assert small_model.predict_one(messy) == small_model.predict_one(r)
    assert row_dict(small_model.predict([pool[0], messy]), 1) == small_model.predict_one(r)
    frame = pd.DataFrame([messy])
    assert row_dict(small_model.predict(frame), 0) == small_model.predict_one(r)


def test_normalize_is_checked_and_round_trips():
    spec = riskscore.load_spec("shipment")
    assert spec.column("importer_id").normalize == ("strip", "upper")
    again = riskscore.RecordSpec.from_dict(spec.to_dict())
    assert again.fingerprint() == spec.fingerprint()
    column = {"name": "x", "type": "category", "role": "entity"}
    for bad, match in [
        (["trim"], r"unknown normalize step\(s\) 'trim'; allowed: strip, upper, lower"),
        ("strip", "normalize must be a list"),
        (["upper", "lower"], "cannot hold both"),
    ]:
        with pytest.raises(riskscore.SpecError, match=match):
            riskscore.spec.ColumnSpec.from_dict({**column, "normalize": bad})
    with pytest.raises(riskscore.SpecError, match="normalize applies only to string and category columns"):
        riskscore.spec.ColumnSpec.from_dict(
            {"name": "n", "type": "int", "role": "count", "normalize": ["strip"]}
        )


def test_the_share_of_unseen_entities_is_reported(small_model, test_window, caplog):
    pred = small_model.predict(test_window.head(500))
    seen = pred.attrs["unseen_history"]
    assert set(seen) >= {"importer", "declarant"}
    assert 0.0 <= seen["importer"] < 0.5  # the test window's importers mostly traded before
    renamed = test_window.head(500).assign(importer_id=lambda f: "X" + f["importer_id"].astype(str))
    with caplog.at_level(logging.INFO, logger="riskscore"):
        shifted = small_model.predict(renamed).attrs["unseen_history"]
    assert shifted["importer"] == 1.0
    assert shifted["declarant"] == seen["declarant"]
    assert "no earlier history for importer 100.0%" in caplog.text
