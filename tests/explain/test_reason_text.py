"""Reason sentences are for officers: field labels and decoded values, never codes or column names.

Every reason of a few thousand records of each kind is scanned: no column or feature name, no category
code in place of the record's value, no "past inspections found ..." beside "no earlier records" for the
same key, no age quoted for a key that was never seen.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from riskscore.explain import explain


def _reasons(model, frame: pd.DataFrame) -> list[tuple[dict, list]]:
    ex = explain(model, frame, top_k=8)
    records = frame.reset_index(drop=True).to_dict("records")
    return list(zip(records, ex.reasons, strict=True))


@pytest.mark.parametrize("kind", ["shipment", "passenger"])
def test_no_reason_quotes_a_code_or_a_column_name(trained, kind):
    result = trained.shipment_result if kind == "shipment" else trained.passenger_result
    model = result.model
    frame = result.test.head(3000)
    spec = model.spec
    names = {c.name for c in spec.columns if "_" in c.name} | {
        n for n in model.features.feature_names_ if "_" in n
    }
    categorical = {c.name for c in spec.columns if c.declared and c.type in ("category", "string")}
    raw_category_features = set(model.features.categorical_) & categorical
    pairs = _reasons(model, frame)
    texts = [r.text for _, rs in pairs for r in rs]
    assert len(texts) > 5000
    for record, reasons in pairs:
        for r in reasons:
            assert r.text.strip(), r
            leaked = [n for n in names if re.search(rf"\b{re.escape(n)}\b", r.text)]
            assert not leaked, (r.code, r.text, leaked)
            if (
                r.code.startswith("FEATURE_")
                and r.fields
                and len(r.fields) == 1
                and r.fields[0] in raw_category_features
            ):
                column = spec.column(r.fields[0])
                # the record's own value, under the field's label: "Origin country: ID", never "...: 8"
                value = record[column.name]
                shown = "unknown" if pd.isna(value) else value
                assert r.text == f"{column.display}: {shown}", r.text
            assert "unknown days ago" not in r.text, r.text


@pytest.mark.parametrize("kind", ["shipment", "passenger"])
def test_no_record_is_said_to_have_history_and_none(trained, kind):
    result = trained.shipment_result if kind == "shipment" else trained.passenger_result
    pairs = _reasons(result.model, result.test.head(3000))
    no_history = 0
    for _, reasons in pairs:
        codes = [r.code for r in reasons]
        for r in reasons:
            if r.code.endswith("_NO_HISTORY"):
                no_history += 1
                stem = r.code.removesuffix("_NO_HISTORY")
                # "has no earlier declarations" and "past inspections found violations" of the same key
                assert f"{stem}_HISTORY" not in codes, codes
        assert len(codes) == len(set(codes)), codes
    if kind == "shipment":  # new importers and importer x HS pairs in every window: the variant is exercised
        assert no_history > 0


def test_rates_read_as_percentages_and_labels_come_from_the_spec(trained):
    model = trained.shipment_model
    pairs = _reasons(model, trained.shipment_result.test.head(3000))
    duty = [r.text for _, rs in pairs for r in rs if r.code == "FEATURE_DUTY_RATE"]
    assert duty, "expected some duty-rate reasons in 3,000 shipments"
    assert all(re.fullmatch(r"Duty rate: [0-9.]+%", t) for t in duty), duty[:5]
    office = [r.text for _, rs in pairs for r in rs if r.code == "FEATURE_OFFICE_CODE"]
    assert all(t.startswith("Customs office: ") for t in office), office[:5]


def test_reason_codes_stay_codes_whatever_the_column_names():
    from riskscore.explain import _code

    assert _code("FEATURE", "ma chi cuc") == "FEATURE_MA_CHI_CUC"
    assert _code("FEATURE", "Số tờ khai", "NO_HISTORY") == "FEATURE_S_T_KHAI_NO_HISTORY"
