"""Tests of riskscore.infer: a spec proposed for an administration's own table, in its own layout."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore import spec as spec_module
from riskscore.exceptions import SchemaError
from riskscore.infer import infer_spec, infer_spec_with_notes
from riskscore.spec import LabelSpec, load_spec
from riskscore.synthetic import generate_shipments
from riskscore.validation import validate_frame

# generated column -> its name in a Vietnamese-like layout, with spaces
FOREIGN = {
    "declaration_id": "so to khai",
    "declared_at": "ngay dang ky",
    "office_code": "ma chi cuc",
    "transport_mode": "phuong thuc van tai",
    "procedure": "loai hinh",
    "importer_id": "ma doanh nghiep",
    "importer_registered_days": "so ngay tu khi dang ky",
    "aeo": "doanh nghiep uu tien",
    "declarant_id": "ma dai ly",
    "hs_code": "ma hs",
    "goods_description": "mo ta hang hoa",
    "origin_country": "xuat xu",
    "departure_country": "nuoc xuat",
    "incoterm": "dieu kien giao hang",
    "quantity": "so luong",
    "quantity_unit": "don vi tinh",
    "net_weight_kg": "trong luong tinh",
    "n_packages": "so kien",
    "cif_value_usd": "tri gia usd",
    "duty_rate": "thue suat",
}
ID, TIME, LABEL, INSPECTED, REVENUE = "so to khai", "ngay dang ky", "ket qua", "da kiem tra", "thu ve"
LEVELS = {"0": "green", "1": "yellow", "2": "red"}
ARGS = {
    "id": ID,
    "timestamp": TIME,
    "label": LABEL,
    "label_map": LEVELS,
    "inspected": INSPECTED,
    "revenue": REVENUE,
}


def foreign_table(n: int = 20_000, seed: int = 5) -> pd.DataFrame:
    """Generated shipments as another administration keeps them: its names, text dates, a 0/1/2 finding."""
    f = generate_shipments(n, seed=seed)
    out = f[list(FOREIGN)].rename(columns=FOREIGN)
    out[TIME] = f["declared_at"].dt.strftime("%d/%m/%Y %H:%M")
    text = [c for c in out.columns if isinstance(out[c].dtype, pd.CategoricalDtype)]
    out = out.astype(dict.fromkeys(text, object))  # plain text, as read from another system
    rng = np.random.default_rng(seed)
    out["ma doanh nghiep"] = out["ma doanh nghiep"].where(rng.random(n) >= 0.03, None)
    inspected = f["inspected"].to_numpy(dtype=bool)
    level = f["observed_channel"].astype(object).map({"green": 0, "yellow": 1, "red": 2})
    out[LABEL] = pd.array(np.where(inspected, level, np.nan), dtype="Float64").astype("Int64")
    out[INSPECTED] = inspected.astype(int)
    found = inspected & f["observed_label"].fillna(False).to_numpy(dtype=bool)
    out[REVENUE] = np.where(found, f["truth_revenue_at_stake_usd"], 0.0).round(2)
    return out


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return foreign_table()


@pytest.fixture(scope="module")
def inferred(table: pd.DataFrame) -> tuple[riskscore.RecordSpec, dict[str, str]]:
    return infer_spec_with_notes(table, **ARGS)


def small(n: int = 400, **columns: object) -> pd.DataFrame:
    """A small table with an id and ISO times over 40 days, plus the given columns."""
    days = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) % 40, unit="D")
    return pd.DataFrame({"no": [f"R{i}" for i in range(n)], "at": days.strftime("%Y-%m-%d %H:%M"), **columns})


# --------------------------------------------------------------------------------------------------------
# The foreign table
# --------------------------------------------------------------------------------------------------------


def test_key_columns_get_their_type_and_role(inferred):
    spec, _ = inferred
    got = {c.name: (c.type, c.role) for c in spec.columns}
    assert got[ID] == ("string", "id")
    assert got[TIME] == ("datetime", "timestamp")
    assert spec.column(TIME).format == "%d/%m/%Y %H:%M"
    assert got["ma doanh nghiep"] == ("category", "entity")
    assert got["ma dai ly"] == ("category", "entity")
    assert got["ma hs"] == ("category", "entity")
    assert got["ma chi cuc"] == ("category", "category")
    assert got["xuat xu"] == ("category", "category")
    assert got["mo ta hang hoa"][1] == "text"
    assert got["so luong"] == ("float", "quantity")
    assert got["trong luong tinh"] == ("float", "weight")
    assert got["tri gia usd"] == ("float", "amount")
    assert got["thue suat"] == ("float", "rate")
    assert got["so kien"] == ("int", "count")
    assert got["so ngay tu khi dang ky"] == ("int", "duration")
    assert got["doanh nghiep uu tien"] == ("bool", "flag")
    assert got[LABEL] == ("int", "label")
    assert got[INSPECTED] == ("bool", "outcome")
    assert got[REVENUE] == ("float", "outcome")
    assert [c.name for c in spec.columns] == list(foreign_table(50).columns)  # the table's order


def test_constraints_follow_the_data(inferred):
    spec, _ = inferred
    importer = spec.column("ma doanh nghiep")
    assert importer.nullable and importer.open and importer.normalize == ("strip", "upper")
    hs = spec.column("ma hs")
    assert hs.pattern == "^[0-9]{6}$" and not hs.nullable
    assert spec.column("phuong thuc van tai").values == ("air", "road", "sea")
    assert spec.column("xuat xu").open and spec.column("xuat xu").pattern == "^[A-Z]{2}$"
    assert spec.column("so luong").min == 0.0
    assert spec.column("thue suat").max == 100.0  # duty rates reach 1.35 here: within [0, 100], not [0, 1]
    assert spec.column(LABEL).nullable and not spec.column(ID).nullable
    assert spec.column("ma dai ly").label == "Ma dai ly"


def test_features_follow_the_roles(inferred):
    spec, _ = inferred
    features = {(f.kind, f.inputs): f for f in spec.features}
    importer = features[("history", ("ma doanh nghiep",))]
    assert importer.windows == (7, 90) and importer.first_seen
    assert features[("history", ("ma hs",))].first_seen is False  # a long-lived code: no days since first
    assert ("history", ("ma hs:4",)) in features and ("history", ("ma hs:2",)) in features
    assert features[("history", ("ma doanh nghiep", "ma hs"))].first_seen
    unit_value = features[("log_ratio", ("tri gia usd", "so luong"))]
    assert ("log_ratio", ("tri gia usd", "trong luong tinh")) in features
    reference = features[("reference", (unit_value.name,))]
    assert reference.by == (("ma hs", "xuat xu"), ("ma hs",), ("ma hs:4",), ("ma hs:2",))
    assert ("not_equal", ("xuat xu", "nuoc xuat")) in features
    assert ("calendar", (TIME,)) in features
    assert not any("ket qua" in "".join(f.inputs) or "thu ve" in "".join(f.inputs) for f in spec.features)


def test_labels_come_from_the_named_columns(inferred):
    spec, _ = inferred
    assert spec.labels == LabelSpec(LABEL, tuple(LEVELS.items()), inspected=INSPECTED, revenue=REVENUE)
    assert set(spec.truth_columns) == {LABEL, INSPECTED, REVENUE}


def test_notes_give_the_evidence(inferred):
    spec, notes = inferred
    assert re.search(r"\b2\d\d distinct values, 6 digits: code with hierarchy", notes["ma hs"]), notes[
        "ma hs"
    ]
    assert "%d/%m/%Y %H:%M" in notes[TIME]
    assert "missing in" in notes["ma doanh nghiep"]
    assert set(notes) <= {c.name for c in spec.columns} | {f.name for f in spec.features} | {
        "[spec]",
        "[labels]",
    }


def test_to_toml_round_trips_with_notes_as_comments(inferred, tmp_path):
    spec, notes = inferred
    text = spec.to_toml(notes=notes)
    assert f'# {notes["ma hs"]}\n[[columns]]\nname = "ma hs"\n' in text
    path = tmp_path / "own.toml"
    path.write_text(text, encoding="utf-8")
    assert load_spec(path) == spec


def test_the_unedited_spec_validates_and_trains(table, inferred):
    spec, _ = inferred
    clean = validate_frame(table, spec)
    assert clean["ma hs"].astype(str).str.len().eq(6).all()
    result = riskscore.train(
        table, kind=spec, num_threads=1, estimator=riskscore.ChannelModel(n_estimators=40)
    )
    batch = table.tail(300)
    pred = result.model.predict(batch)
    assert len(pred) == 300 and pred["channel"].isin(["green", "yellow", "red"]).all()
    assert np.allclose(pred[["p_green", "p_yellow", "p_red"]].sum(axis=1), 1.0)
    one = result.model.predict_one(batch.iloc[-1].to_dict())
    assert one["risk_score"] == pytest.approx(float(pred["risk_score"].iloc[-1]))


def test_text_only_input_gives_the_same_spec(table, inferred):
    """A CSV read as text (what `riskscore spec infer` does) gives the spec inferred from typed columns."""
    as_text = table.astype(object).where(table.notna(), None).map(lambda v: v if v is None else str(v))
    assert infer_spec(as_text, **ARGS) == inferred[0]


# --------------------------------------------------------------------------------------------------------
# Rules on small tables
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("%Y-%m-%d %H:%M:%S", None),
        ("%d/%m/%Y", "%d/%m/%Y"),
        ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M"),
        ("%Y%m%d", None),  # ISO 8601's basic form: read as it is, no format needed
        ("%d.%m.%Y", "%d.%m.%Y"),
        ("%m/%d/%Y", "%m/%d/%Y"),
    ],
)
def test_time_layouts_are_detected(layout, expected):
    at = pd.date_range("2025-01-01 08:15", periods=60, freq="37h")
    frame = pd.DataFrame({"no": [f"R{i}" for i in range(60)], "at": at.strftime(layout)})
    spec = infer_spec(frame, id="no", timestamp="at")
    assert spec.column("at").format == expected
    assert validate_frame(frame, spec)["at"].dt.date.tolist() == at.date.tolist()


def test_day_month_ambiguity_is_noted():
    at = pd.date_range("2025-01-01", periods=12, freq="31D")  # every day of the month <= 12
    frame = pd.DataFrame({"no": [f"R{i}" for i in range(12)], "at": at.strftime("%d/%m/%Y")})
    spec, notes = infer_spec_with_notes(frame, id="no", timestamp="at")
    assert spec.column("at").format == "%d/%m/%Y"
    assert "day first assumed" in notes["at"]


@pytest.mark.parametrize("name", ["gioi tinh", "Age", "nationality", "Quốc tịch", "date of birth"])
def test_protected_attributes_by_name(name):
    spec = infer_spec(small(**{name: ["a", "b"] * 200}), id="no", timestamp="at")
    assert spec.column(name).role == "protected" and spec.column(name).protected


def test_a_word_inside_another_is_no_hint():
    spec = infer_spec(
        small(**{"packages": np.arange(400) % 7 + 2, "usage": ["x", "y"] * 200}), id="no", timestamp="at"
    )
    assert spec.column("packages").role == "count"  # "age" inside "packages" is not an age
    assert spec.column("usage").role == "category"


def test_numbers_by_name_and_by_value():
    rng = np.random.default_rng(0)
    spec = infer_spec(
        small(
            **{
                "vat pct": rng.uniform(0, 0.2, 400),
                "mass": rng.uniform(1, 9, 400),
                "price eur": rng.uniform(1, 9, 400),
                "boxes": rng.integers(0, 9, 400),
                "something": rng.uniform(1, 9, 400),
                "delta": rng.normal(size=400),
            }
        ),
        id="no",
        timestamp="at",
    )
    roles = {c.name: (c.role, c.min, c.max) for c in spec.columns}
    assert roles["vat pct"] == ("rate", 0.0, 1.0)
    assert roles["mass"] == ("weight", 0.0, None)
    assert roles["price eur"] == ("amount", 0.0, None)
    assert roles["boxes"] == ("count", 0.0, None)
    assert roles["something"] == ("amount", 0.0, None)
    assert roles["delta"] == ("amount", None, None)  # negative values: no lower bound


@pytest.mark.parametrize(
    "outcome",
    [
        pd.array([0, 1, None, 0] * 100, dtype="Int64"),
        pd.array([False, True, None, False] * 100, dtype="boolean"),
        ["0", "1", None, "0"] * 100,
    ],
)
def test_a_zero_one_label_maps_to_green_and_red(outcome):
    frame = small(found=outcome)
    spec = infer_spec(frame, id="no", timestamp="at", label="found")
    assert spec.labels is not None and spec.labels.channel_of == {"0": "green", "1": "red"}
    assert spec.column("found").type == "bool" and spec.column("found").nullable
    assert validate_frame(frame, spec)["found"].sum() == 100


def test_channel_words_are_read_as_themselves():
    words = infer_spec(
        small(found=["green", "red", None, "yellow"] * 100), id="no", timestamp="at", label="found"
    )
    assert words.labels is not None and words.labels.channel_of == {c: c for c in ("green", "yellow", "red")}


def test_codes_of_mixed_lengths_are_a_warning_not_an_error():
    codes = [f"{(i * 7919) % 90000 + 10000:06d}" for i in range(400)]
    codes[::20] = [c.lstrip("0") for c in codes[::20]]  # 5% lost their leading zero
    spec, notes = infer_spec_with_notes(small(**{"hs": codes}), id="no", timestamp="at")
    assert spec.column("hs").role == "entity" and spec.column("hs").pattern is None
    assert "WARNING" in notes["hs"] and "leading zeros" in notes["hs"]
    assert not any(":" in i for f in spec.features for i in f.inputs)  # no hierarchy from broken codes


def test_bad_input_lists_every_problem_at_once():
    frame = small(found=pd.array([0, 1, 2, 7] * 100, dtype="Int64"), checked=["yes", "no"] * 200)
    frame.loc[5, "no"] = "R4"  # a repeated id
    with pytest.raises(SchemaError) as caught:
        infer_spec(
            frame,
            id="no",
            timestamp="at",
            label="found",
            label_map={"0": "green", "1": "yellow", "2": "red"},
            inspected="checked",
            propensity="p_selected",
            revenue="at",
        )
    message = str(caught.value)
    assert message.startswith("cannot infer a spec from this table: 5 problems")
    assert "column 'p_selected': the propensity column 'p_selected' is not in the data" in message
    assert "column 'at' is named both as the timestamp and as the revenue column" in message
    assert "column 'no': the id column must be unique; rows 4, 5 share ids" in message
    assert "label value(s) ['7'] in rows 3, 7, 11, 15, 19 and 95 more are not in the label map" in message
    assert "column 'checked': the inspected column must say true/false or 1/0" in message


def test_ids_of_mixed_lengths_are_an_error():
    ids = [f"{i:08d}" for i in range(10_000_000, 10_000_400)]
    ids[3] = "1234567"
    frame = small().assign(no=ids)
    with pytest.raises(SchemaError, match=r"row 3 are shorter: leading zeros lost"):
        infer_spec(frame, id="no", timestamp="at")


def test_unmapped_label_values_are_refused_by_name():
    with pytest.raises(SchemaError, match=r"holds \['fraud', 'ok'\], which are not channel words or 0/1"):
        infer_spec(small(found=["ok", "fraud"] * 200), id="no", timestamp="at", label="found")


def test_reachable_from_the_package_and_the_spec_module():
    assert riskscore.infer_spec is infer_spec
    assert spec_module.infer_spec is infer_spec  # no deprecation warning: warnings are errors here


# --------------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------------


def _console_script() -> str:
    beside = Path(sys.executable).with_name("riskscore")
    found = str(beside) if beside.exists() else shutil.which("riskscore")
    if found is None:
        pytest.fail("the riskscore console script is not installed (pip install -e .)")
    return found


def test_console_script_infers_a_spec_from_a_csv(tmp_path):
    table = foreign_table(3_000, seed=2)
    table.loc[0, "ma hs"] = "080510"  # a leading zero that a CSV read as numbers would lose
    data = tmp_path / "to khai.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "own.toml"
    done = subprocess.run(
        [_console_script(), "spec", "infer", str(data), "--id", ID, "--time", TIME, "--label", LABEL,
         "--label-map", "0=green,1=yellow,2=red", "--inspected", INSPECTED, "--revenue", REVENUE,
         "--name", "vn_imports", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    entities = next(line for line in done.stdout.splitlines() if line.strip().startswith("entity"))
    assert "ma doanh nghiep" in entities and "ma hs" in entities
    spec = load_spec(out)
    assert spec.name == "vn_imports" and spec.column("ma hs").pattern == "^[0-9]{6}$"
    assert spec.labels is not None and spec.labels.channel_of == LEVELS
    assert "# " in out.read_text(encoding="utf-8")


def test_console_script_reports_problems_and_writes_nothing(tmp_path):
    data = tmp_path / "t.csv"
    small().to_csv(data, index=False)
    out = tmp_path / "own.toml"
    done = subprocess.run(
        [_console_script(), "spec", "infer", str(data), "--id", "nope", "--time", "at", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "the id column 'nope' is not in the data" in done.stderr
    assert not out.exists()
