"""Tests of riskscore.spec: loading record specs and validating frames against them."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskscore import spec as spec_module
from riskscore.exceptions import ParameterError, SchemaError, SpecError
from riskscore.spec import (
    COLUMN_TYPES,
    ROLES,
    ColumnSpec,
    RecordSpec,
    load_spec,
    schema_summary,
)
from riskscore.validation import validate_frame

# --------------------------------------------------------------------------------------------------------
# A small spec used throughout
# --------------------------------------------------------------------------------------------------------

MINI_TOML = """
[spec]
name = "mini"
version = 2
description = "A small declaration spec for tests"
id = "declaration_id"
timestamp = "declared_at"

[[columns]]
name = "declaration_id"
type = "string"
role = "id"
pattern = "^D[0-9]+$"

[[columns]]
name = "declared_at"
type = "datetime"
role = "timestamp"

[[columns]]
name = "mode"
type = "category"
role = "category"
values = ["sea", "air", "rail"]

[[columns]]
name = "importer_id"
type = "category"
role = "entity"
open = true
pattern = "^I[0-9]{3}$"

[[columns]]
name = "cif_value_usd"
type = "float"
role = "amount"
min = 0
max = 1e6

[[columns]]
name = "packages"
type = "int"
role = "count"
min = 1
nullable = true

[[columns]]
name = "perishable"
type = "bool"
role = "flag"

[[columns]]
name = "origin"
type = "string"
role = "category"
values = ["FR", "CN", "US"]
nullable = true
required = false

[[columns]]
name = "sex"
type = "category"
role = "protected"
values = ["F", "M"]
required = false

[[columns]]
name = "is_fraud"
type = "bool"
role = "truth"

[[columns]]
name = "seized_value"
type = "float"
role = "outcome"
min = 0
nullable = true
"""


@pytest.fixture(scope="module")
def mini() -> RecordSpec:
    return RecordSpec.from_dict(_toml(MINI_TOML))


def _toml(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def _frame(n: int = 3) -> pd.DataFrame:
    """A valid frame for the mini spec (declared columns only)."""
    return pd.DataFrame(
        {
            "declaration_id": [f"D{i}" for i in range(n)],
            "declared_at": [f"2024-01-{i + 1:02d}T10:00:00" for i in range(n)],
            "mode": (["sea", "air", "sea"] * n)[:n],
            "importer_id": [f"I{100 + i}" for i in range(n)],
            "cif_value_usd": [1000.0 + i for i in range(n)],
            "packages": list(range(1, n + 1)),
            "perishable": ([True, False] * n)[:n],
        }
    )


def _write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------
# Loading and the spec objects
# --------------------------------------------------------------------------------------------------------


def test_load_spec_from_path_reads_every_field(tmp_path: Path) -> None:
    loaded = load_spec(_write(tmp_path, MINI_TOML))
    assert (loaded.name, loaded.version, loaded.id_column, loaded.time_column) == (
        "mini",
        2,
        "declaration_id",
        "declared_at",
    )
    assert loaded.description == "A small declaration spec for tests"
    value = loaded.column("cif_value_usd")
    assert (value.type, value.role, value.min, value.max, value.nullable) == (
        "float",
        "amount",
        0.0,
        1e6,
        False,
    )
    assert loaded.column("mode").values == ("sea", "air", "rail")
    assert loaded.column("importer_id").open is True
    assert loaded.column("origin").required is False
    # a str path works as well as a Path, and a RecordSpec passes through unchanged
    assert load_spec(str(tmp_path / "spec.toml")) == loaded
    assert load_spec(loaded) is loaded


def test_relative_toml_name_is_a_path_not_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, MINI_TOML, "mine.toml")
    monkeypatch.chdir(tmp_path)
    assert load_spec("mine.toml").name == "mini"


def test_builtin_names_load_from_package_and_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, MINI_TOML, "mini.toml")
    monkeypatch.setattr(spec_module, "_builtin_dir", lambda: tmp_path)
    spec_module._load_builtin.cache_clear()
    try:
        first = load_spec("mini")
        assert first.name == "mini"
        assert load_spec("mini") is first  # cached: the same object
        with pytest.raises(
            SpecError, match=r"unknown built-in spec 'mino' \(did you mean 'mini'\?\); available: mini"
        ):
            load_spec("mino")
    finally:
        spec_module._load_builtin.cache_clear()


def test_builtin_dir_is_the_package_specs_folder() -> None:
    expected = importlib.resources.files("riskscore") / "specs"
    assert str(spec_module._builtin_dir()) == str(expected)


@pytest.mark.parametrize("name", ["shipment", "passenger"])
def test_builtin_spec_loads_and_validates_an_empty_frame(name: str) -> None:
    path = importlib.resources.files("riskscore") / "specs" / f"{name}.toml"
    if not path.is_file():
        pytest.skip(f"built-in spec {name}.toml is not written yet")
    loaded = load_spec(name)
    assert loaded.name == name
    assert load_spec(name) is loaded
    assert RecordSpec.from_dict(loaded.to_dict()) == loaded
    assert loaded.id_column in loaded.declared_columns
    assert set(loaded.truth_columns).isdisjoint(loaded.declared_columns)
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in loaded.names()})
    out = validate_frame(empty, loaded, columns="all")
    assert list(out.columns) == loaded.names()
    assert out[loaded.time_column].dtype == "datetime64[ns]"


def test_unknown_builtin_lists_the_available_names() -> None:
    with pytest.raises(SpecError, match=r"unknown built-in spec 'no_such_spec'.*available: "):
        load_spec("no_such_spec")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"spec file '.*nope\.toml' does not exist"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)


def test_toml_syntax_error_names_the_file_and_the_problem(tmp_path: Path) -> None:
    path = _write(tmp_path, '[spec]\nname = "x\n', "broken.toml")
    with pytest.raises(SpecError, match=r"broken\.toml'?: invalid TOML: .*line 2"):
        load_spec(path)


def test_missing_spec_keys_are_all_listed(tmp_path: Path) -> None:
    text = MINI_TOML.replace('id = "declaration_id"\n', "").replace('timestamp = "declared_at"\n', "")
    with pytest.raises(SpecError, match=r"\[spec\] is missing required key\(s\) 'id', 'timestamp'"):
        load_spec(_write(tmp_path, text))
    with pytest.raises(SpecError, match=r"the \[spec\] table is missing"):
        RecordSpec.from_dict({"columns": []})


def test_unknown_type_names_column_value_and_allowed(tmp_path: Path) -> None:
    text = MINI_TOML.replace('type = "float"', 'type = "flaot"')
    pattern = (
        r"spec\.toml'?: \[\[columns\]\] #5: column 'cif_value_usd': unknown type 'flaot' "
        r"\(did you mean 'float'\?\); allowed types: string, category, int, float, bool, datetime"
    )
    with pytest.raises(SpecError, match=pattern):
        load_spec(_write(tmp_path, text))


def test_unknown_role_names_column_value_and_allowed() -> None:
    with pytest.raises(
        SpecError, match=r"column 'x': unknown role 'amout' \(did you mean 'amount'\?\); allowed roles: id"
    ):
        ColumnSpec(name="x", type="float", role="amout")


def test_unknown_column_key_is_a_typo_error() -> None:
    with pytest.raises(
        SpecError, match=r"column 'x': unknown key\(s\) 'nulable' \(did you mean 'nullable'\?\)"
    ):
        ColumnSpec.from_dict({"name": "x", "type": "int", "role": "count", "nulable": True})
    with pytest.raises(SpecError, match=r"\[spec\] has unknown key\(s\) 'verison'"):
        RecordSpec.from_dict({"spec": {"verison": 1}, "columns": []})


def test_duplicate_column_names(tmp_path: Path) -> None:
    text = MINI_TOML + '\n[[columns]]\nname = "mode"\ntype = "string"\nrole = "text"\n'
    with pytest.raises(SpecError, match=r"spec 'mini': duplicate column name\(s\) 'mode'"):
        load_spec(_write(tmp_path, text))


def test_id_and_timestamp_columns_must_exist_with_the_right_role(tmp_path: Path) -> None:
    absent = MINI_TOML.replace('id = "declaration_id"', 'id = "declaration"')
    with pytest.raises(
        SpecError, match=r"the id column 'declaration' is not among the columns \(did you mean"
    ):
        load_spec(_write(tmp_path, absent))
    wrong_role = MINI_TOML.replace('timestamp = "declared_at"', 'timestamp = "mode"')
    with pytest.raises(
        SpecError, match=r"the timestamp column 'mode' must have role 'timestamp', not 'category'"
    ):
        load_spec(_write(tmp_path, wrong_role))
    wrong_id = MINI_TOML.replace('id = "declaration_id"', 'id = "importer_id"')
    with pytest.raises(SpecError, match=r"the id column 'importer_id' must have role 'id', not 'entity'"):
        load_spec(_write(tmp_path, wrong_id))


def test_min_greater_than_max() -> None:
    with pytest.raises(SpecError, match=r"column 'w': min \(10\) is greater than max \(1\)"):
        ColumnSpec(name="w", type="float", role="weight", min=10, max=1)


def test_values_only_on_text_columns() -> None:
    with pytest.raises(SpecError, match=r"column 'n': values applies only to string and category columns"):
        ColumnSpec(name="n", type="int", role="count", values=("1", "2"))
    with pytest.raises(SpecError, match=r"column 's': min applies only to int and float columns"):
        ColumnSpec(name="s", type="string", role="text", min=0)


def test_other_invalid_fields() -> None:
    with pytest.raises(SpecError, match=r"column 'p': pattern '\[' is not a valid regex"):
        ColumnSpec(name="p", type="string", role="text", pattern="[")
    with pytest.raises(SpecError, match=r"version must be an integer >= 1, got 0"):
        RecordSpec.from_dict({**_toml(MINI_TOML), "spec": {**_toml(MINI_TOML)["spec"], "version": 0}})
    with pytest.raises(SpecError, match=r"spec name must be an identifier"):
        RecordSpec.from_dict({**_toml(MINI_TOML), "spec": {**_toml(MINI_TOML)["spec"], "name": "my spec"}})


def test_column_lookup_and_suggestions(mini: RecordSpec) -> None:
    assert mini.column("mode").type == "category"
    with pytest.raises(
        SpecError, match=r"spec 'mini' has no column 'cif_value' \(did you mean 'cif_value_usd'"
    ):
        mini.column("cif_value")


def test_name_groups(mini: RecordSpec) -> None:
    assert mini.names()[:3] == ["declaration_id", "declared_at", "mode"]
    assert mini.truth_columns == ["is_fraud", "seized_value"]
    assert mini.declared_columns == [n for n in mini.names() if n not in ("is_fraud", "seized_value")]
    assert mini.names(roles="category") == ["mode", "origin"]
    assert mini.names(roles=["truth", "outcome"], declared=False) == ["is_fraud", "seized_value"]
    assert mini.names(roles="truth", declared=True) == []
    # role "protected" implies protected = true
    assert mini.protected_columns == ["sex"]
    assert mini.column("sex").protected is True
    assert not mini.column("is_fraud").declared
    with pytest.raises(SpecError, match=r"unknown role\(s\) 'amout'"):
        mini.names(roles="amout")


def test_round_trip_and_fingerprint(mini: RecordSpec) -> None:
    data = mini.to_dict()
    assert RecordSpec.from_dict(data) == mini
    assert RecordSpec.from_dict(json.loads(json.dumps(data))) == mini
    assert re.fullmatch(r"[0-9a-f]{64}", mini.fingerprint())
    assert RecordSpec.from_dict(data).fingerprint() == mini.fingerprint()
    data["columns"][2]["description"] = "transport mode"
    assert RecordSpec.from_dict(data).fingerprint() != mini.fingerprint()
    # equal specs spelled differently (int vs float bound, list vs tuple values) share a fingerprint
    a = ColumnSpec(name="v", type="float", role="amount", min=0)
    b = ColumnSpec(name="v", type="float", role="amount", min=0.0)
    assert a == b
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert hash(mini) == hash(RecordSpec.from_dict(mini.to_dict()))


def test_fingerprint_is_stable_across_releases() -> None:
    # Models store the fingerprint; changing the canonical form silently would orphan them.
    fixed = RecordSpec(
        name="tiny",
        version=1,
        description="",
        id_column="id",
        time_column="t",
        columns=(ColumnSpec("id", "string", "id"), ColumnSpec("t", "datetime", "timestamp")),
    )
    text = json.dumps(fixed.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fixed.fingerprint() == hashlib.sha256(text.encode()).hexdigest()
    assert fixed.fingerprint() == "d3c8caac703827dde13a093c1e223310988edee98c3705d7592428e232ac21b3"


_names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)


@st.composite
def column_specs(draw: st.DrawFn, name: str) -> ColumnSpec:
    type_ = draw(st.sampled_from(COLUMN_TYPES))
    role = draw(st.sampled_from([r for r in ROLES if r not in ("id", "timestamp")]))
    kwargs: dict[str, Any] = {
        "description": draw(st.text(max_size=8)),
        "nullable": draw(st.booleans()),
        "required": draw(st.booleans()),
        "protected": draw(st.booleans()),
    }
    if type_ in ("int", "float"):
        bounds = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.integers(-99, 99)
        lo, hi = draw(bounds), draw(bounds)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        kwargs.update(min=lo, max=hi)
    if type_ in ("string", "category"):
        kwargs["values"] = draw(st.none() | st.lists(st.text(max_size=4), unique=True, max_size=4).map(tuple))
        kwargs["open"] = draw(st.booleans())
        kwargs["pattern"] = draw(st.sampled_from([None, "^[A-Z]{2}$", r"\d+"]))
    return ColumnSpec(name=name, type=type_, role=role, **kwargs)


@st.composite
def record_specs(draw: st.DrawFn) -> RecordSpec:
    names = draw(st.lists(_names, min_size=2, max_size=6, unique=True))
    columns = [ColumnSpec(names[0], "string", "id"), ColumnSpec(names[1], "datetime", "timestamp")]
    columns += [draw(column_specs(name)) for name in names[2:]]
    return RecordSpec(
        name=draw(_names),
        version=draw(st.integers(1, 50)),
        description=draw(st.text(max_size=10)),
        id_column=names[0],
        time_column=names[1],
        columns=tuple(draw(st.permutations(columns))),
    )


@settings(max_examples=30, deadline=None)
@given(record_specs())
def test_round_trip_property(spec: RecordSpec) -> None:
    again = RecordSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.fingerprint() == spec.fingerprint()
    assert hash(again) == hash(spec)


def test_schema_summary(mini: RecordSpec) -> None:
    table = schema_summary(mini)
    assert list(table.columns) == [
        "name",
        "type",
        "role",
        "nullable",
        "required",
        "declared",
        "protected",
        "allowed",
        "description",
    ]
    assert table["name"].tolist() == mini.names()
    row = table.set_index("name")
    assert row.loc["cif_value_usd", "allowed"] == "0 .. 1000000"
    assert row.loc["packages", "allowed"] == ">= 1"
    assert row.loc["mode", "allowed"] == "one of sea, air, rail"
    assert row.loc["importer_id", "allowed"] == "open set; matches ^I[0-9]{3}$"
    assert not row.loc["is_fraud", "declared"]
    assert row.loc["sex", "protected"]


# --------------------------------------------------------------------------------------------------------
# validate_frame: coercion
# --------------------------------------------------------------------------------------------------------


def test_canonical_dtypes(mini: RecordSpec) -> None:
    out = validate_frame(_frame(), mini)
    assert out["declaration_id"].dtype == pd.StringDtype(na_value=np.nan)
    assert out["declaration_id"].dtype == "str"
    assert out["declared_at"].dtype == "datetime64[ns]"
    assert isinstance(out["mode"].dtype, pd.CategoricalDtype)
    assert out["cif_value_usd"].dtype == "float64"
    assert out["packages"].dtype == "int64"
    assert out["perishable"].dtype == bool


def test_category_categories_are_observed_values_not_spec_order(mini: RecordSpec) -> None:
    frame = _frame(3).assign(mode=["sea", "air", "sea"])
    out = validate_frame(frame, mini)
    assert out["mode"].cat.categories.tolist() == ["air", "sea"]  # observed, sorted; 'rail' not imposed
    # unused categories of a categorical input are dropped, non-string labels become strings
    codes = pd.Series(pd.Categorical([3, 1, 3], categories=[1, 2, 3]))
    spec = RecordSpec.from_dict(
        {
            "spec": {"name": "c", "version": 1, "id": "i", "timestamp": "t"},
            "columns": [
                {"name": "i", "type": "string", "role": "id"},
                {"name": "t", "type": "datetime", "role": "timestamp"},
                {"name": "code", "type": "category", "role": "category"},
            ],
        }
    )
    out = validate_frame(pd.DataFrame({"i": ["a", "b", "c"], "t": ["2024-01-01"] * 3, "code": codes}), spec)
    assert out["code"].cat.categories.tolist() == ["1", "3"]
    assert out["code"].tolist() == ["3", "1", "3"]


def test_numbers_from_text_and_int_from_whole_floats(mini: RecordSpec) -> None:
    frame = _frame(3).assign(cif_value_usd=["1.5", "20", "3e2"], packages=[1.0, 2.0, 3.0])
    out = validate_frame(frame, mini)
    assert out["cif_value_usd"].tolist() == [1.5, 20.0, 300.0]
    assert out["packages"].dtype == "int64"
    assert out["packages"].tolist() == [1, 2, 3]


def test_nullable_int_with_missing_becomes_float(mini: RecordSpec) -> None:
    out = validate_frame(_frame(3).assign(packages=pd.Series([1, None, 3], dtype=object)), mini)
    assert out["packages"].dtype == "float64"
    assert out["packages"].isna().tolist() == [False, True, False]


def test_bool_from_strings_and_zero_one(mini: RecordSpec) -> None:
    out = validate_frame(_frame(4).assign(perishable=["true", "False", "TRUE", "false"]), mini)
    assert out["perishable"].dtype == bool
    assert out["perishable"].tolist() == [True, False, True, False]
    out = validate_frame(_frame(3).assign(perishable=[1, 0, 1]), mini)
    assert out["perishable"].tolist() == [True, False, True]
    mixed = pd.Series([True, "false", 0], dtype=object)
    assert validate_frame(_frame(3).assign(perishable=mixed), mini)["perishable"].tolist() == [
        True,
        False,
        False,
    ]


def test_nullable_bool_with_missing_becomes_boolean() -> None:
    spec = RecordSpec.from_dict(
        {
            "spec": {"name": "b", "version": 1, "id": "i", "timestamp": "t"},
            "columns": [
                {"name": "i", "type": "string", "role": "id"},
                {"name": "t", "type": "datetime", "role": "timestamp"},
                {"name": "f", "type": "bool", "role": "flag", "nullable": True},
            ],
        }
    )
    frame = pd.DataFrame({"i": ["a", "b"], "t": ["2024-01-01", "2024-01-02"], "f": ["true", None]})
    out = validate_frame(frame, spec)
    assert out["f"].dtype == "boolean"
    assert bool(out["f"].iloc[0]) is True
    assert out["f"].isna().tolist() == [False, True]


def test_tz_aware_datetimes_become_naive_utc(mini: RecordSpec) -> None:
    stamps = pd.Series(
        pd.to_datetime(["2024-06-01 12:00", "2024-01-01 00:30", "2024-03-01 00:00"])
    ).dt.tz_localize("Europe/Paris")
    out = validate_frame(_frame(3).assign(declared_at=stamps), mini)
    assert out["declared_at"].dtype == "datetime64[ns]"
    assert out["declared_at"].tolist() == [
        pd.Timestamp("2024-06-01 10:00"),
        pd.Timestamp("2023-12-31 23:30"),
        pd.Timestamp("2024-02-29 23:00"),
    ]
    text = ["2024-01-01T00:00:00+02:00", "2024-01-01 05:00", "2024-01-02"]
    out = validate_frame(_frame(3).assign(declared_at=text), mini)
    assert out["declared_at"].tolist()[0] == pd.Timestamp("2023-12-31 22:00")


def test_strings_from_numbers_keep_integers_clean() -> None:
    spec = RecordSpec.from_dict(
        {
            "spec": {"name": "s", "version": 1, "id": "i", "timestamp": "t"},
            "columns": [
                {"name": "i", "type": "string", "role": "id"},
                {"name": "t", "type": "datetime", "role": "timestamp"},
                {"name": "hs", "type": "string", "role": "category", "nullable": True},
            ],
        }
    )
    frame = pd.DataFrame({"i": [17, 18], "t": ["2024-01-01"] * 2, "hs": [8471.0, np.nan]})
    out = validate_frame(frame, spec)
    assert out["i"].tolist() == ["17", "18"]
    assert out["hs"].iloc[0] == "8471"
    assert out["hs"].dtype == "str"
    assert pd.isna(out["hs"].iloc[1])


def test_input_frame_is_not_mutated(mini: RecordSpec) -> None:
    frame = _frame(3).assign(cif_value_usd=["1", "2", "3"], extra_col=[1, 2, 3])
    before = frame.copy(deep=True)
    out = validate_frame(frame, mini)
    pd.testing.assert_frame_equal(frame, before)
    out.loc[0, "extra_col"] = 99
    out.loc[0, "cif_value_usd"] = 99.0
    pd.testing.assert_frame_equal(frame, before)
    assert out is not frame


def test_column_order_and_extra_handling(mini: RecordSpec) -> None:
    frame = _frame(2)
    shuffled = frame[list(reversed(frame.columns))].assign(zeta=1, alpha=2)
    kept = validate_frame(shuffled, mini)
    assert list(kept.columns) == [*frame.columns, "zeta", "alpha"]
    assert kept["zeta"].tolist() == [1, 1]
    dropped = validate_frame(shuffled, mini, extra="drop")
    assert list(dropped.columns) == list(frame.columns)
    with pytest.raises(SchemaError, match=r"spec 'mini' does not know: 'zeta', 'alpha'\. Drop them"):
        validate_frame(shuffled, mini, extra="error")
    assert list(validate_frame(frame, mini, extra="error").columns) == list(frame.columns)


def test_index_is_preserved(mini: RecordSpec) -> None:
    frame = _frame(3).set_axis(["a", "b", "c"])
    out = validate_frame(frame, mini)
    assert out.index.tolist() == ["a", "b", "c"]


def test_empty_frame_gets_canonical_dtypes(mini: RecordSpec) -> None:
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in mini.names()})
    out = validate_frame(empty, mini, columns="all")
    assert len(out) == 0
    assert list(out.columns) == mini.names()
    assert out["declaration_id"].dtype == "str"
    assert out["declared_at"].dtype == "datetime64[ns]"
    assert isinstance(out["mode"].dtype, pd.CategoricalDtype)
    assert out["cif_value_usd"].dtype == "float64"
    assert out["packages"].dtype == "int64"
    assert out["is_fraud"].dtype == bool


def test_declared_mode_keeps_and_coerces_truth_columns_without_checking_them(mini: RecordSpec) -> None:
    frame = _frame(3).assign(
        is_fraud=pd.Series(["true", "false", None], dtype=object), seized_value=[-5, 0, 1], sex="F"
    )
    out = validate_frame(frame, mini)
    assert out["is_fraud"].dtype == "boolean"  # coerced, missing allowed here
    assert out["seized_value"].tolist() == [-5.0, 0.0, 1.0]  # min not checked for truth in declared mode
    assert list(out.columns)[-2:] == ["is_fraud", "seized_value"]
    # but a value that cannot be coerced at all is still an error
    with pytest.raises(SchemaError, match=r"column 'is_fraud' must be true or false.*row 1"):
        validate_frame(frame.assign(is_fraud=["true", "maybe", "false"]), mini)
    # and columns="all" checks them
    with pytest.raises(
        SchemaError, match=r"column 'is_fraud' must not be missing; row 2 \(declaration_id 'D2'\)"
    ):
        validate_frame(frame, mini, columns="all")


def test_all_mode_requires_truth_columns(mini: RecordSpec) -> None:
    # every column with required = true, truth ones included, and every non-nullable column ('sex' is
    # optional for scoring but not nullable) must be present; 'origin' (optional and nullable) need not be
    pattern = r"lacks 3 columns required.*: 'sex', 'is_fraud', 'seized_value'\. .*columns='all' also requires"
    with pytest.raises(SchemaError, match=pattern):
        validate_frame(_frame(2), mini, columns="all")
    complete = _frame(2).assign(sex="M", is_fraud=False, seized_value=None)
    assert validate_frame(complete, mini, columns="all")["is_fraud"].dtype == bool
    assert "is_fraud" not in validate_frame(_frame(2), mini).columns


# --------------------------------------------------------------------------------------------------------
# validate_frame: errors
# --------------------------------------------------------------------------------------------------------


def test_missing_columns_are_all_listed_with_suggestions(mini: RecordSpec) -> None:
    frame = _frame(2).drop(columns=["cif_value_usd", "perishable"]).assign(cif_value=1.0)
    pattern = (
        r"the frame lacks 2 columns required by spec 'mini' \(version 2\): "
        r"'cif_value_usd' \(did you mean 'cif_value'\?\), 'perishable'\. Add or rename"
    )
    with pytest.raises(SchemaError, match=pattern):
        validate_frame(frame, mini)
    # optional columns (required = false) may be absent
    assert "origin" not in validate_frame(_frame(2), mini).columns


def test_not_a_number(mini: RecordSpec) -> None:
    frame = _frame(3).assign(cif_value_usd=["1", "abc", "2"])
    with pytest.raises(
        SchemaError,
        match=r"column 'cif_value_usd' must be a number; row 1 \(declaration_id 'D1'\) has 'abc'\. "
        r"Fix the value.*\(the column's spec: float, role amount\)",
    ):
        validate_frame(frame, mini)


def test_fraction_in_int_column(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError, match=r"column 'packages' must be a whole number.*row 2 \(declaration_id 'D2'\) has 1\.5"
    ):
        validate_frame(_frame(3).assign(packages=[1.0, 2.0, 1.5]), mini)


def test_missing_in_non_nullable(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'cif_value_usd' must not be missing; row 1 \(declaration_id 'D1'\) is missing"
        r".*nullable = true",
    ):
        validate_frame(_frame(3).assign(cif_value_usd=pd.Series([1.0, np.nan, None], dtype=object)), mini)
    with pytest.raises(
        SchemaError, match=r"column 'mode' must not be missing; row 0 \(declaration_id 'D0'\)"
    ):
        validate_frame(_frame(2).assign(mode=pd.Series([None, "sea"], dtype=object)), mini)


def test_infinity(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'cif_value_usd' must be a finite number; row 2 \(declaration_id 'D2'\) has -inf",
    ):
        validate_frame(_frame(3).assign(cif_value_usd=[1.0, 2.0, -np.inf]), mini)
    with pytest.raises(SchemaError, match=r"column 'packages' must be a whole number.*row 0 .*has inf"):
        validate_frame(_frame(2).assign(packages=[np.inf, 1.0]), mini)


@pytest.mark.parametrize("huge", [10**400, -(10**400)])
def test_int_beyond_float_range_is_named(mini: RecordSpec, huge: int) -> None:
    """pandas' to_numeric raises OverflowError on such ints; they are refused by name like infinities."""
    amounts = pd.Series([1.0, huge, 2.0], dtype=object)
    with pytest.raises(SchemaError, match=r"column 'cif_value_usd' must be a finite number; row 1 "):
        validate_frame(_frame(3).assign(cif_value_usd=amounts), mini)


def test_bounds(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'cif_value_usd' must be a number >= 0; row 1 \(declaration_id 'D1'\) has -3\.0 "
        r"\(1 more row fail the same way\)\. Fix the value or drop the row\.",
    ):
        validate_frame(_frame(3).assign(cif_value_usd=[1.0, -3.0, -4.0]), mini)
    with pytest.raises(
        SchemaError,
        match=r"column 'cif_value_usd' must be a number <= 1000000; row 0 \(declaration_id 'D0'\)",
    ):
        validate_frame(_frame(2).assign(cif_value_usd=[2e6, 1.0]), mini)
    with pytest.raises(
        SchemaError,
        match=r"column 'packages' must be a whole number >= 1; row 1 \(declaration_id 'D1'\) has 0",
    ):
        validate_frame(_frame(2).assign(packages=[1, 0]), mini)


def test_value_outside_closed_set(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'mode' must be one of 'sea', 'air', 'rail'; row 2 \(declaration_id 'D2'\) "
        r"has 'truck'.*open = true",
    ):
        validate_frame(_frame(3).assign(mode=["sea", "air", "truck"]), mini)
    with pytest.raises(
        SchemaError,
        match=r"column 'origin' must be one of 'FR', 'CN', 'US'; row 1 \(declaration_id 'D1'\) has 'XX'",
    ):
        validate_frame(_frame(2).assign(origin=["FR", "XX"]), mini)
    # open sets are not checked against values
    assert validate_frame(_frame(2).assign(importer_id=["I999", "I998"]), mini)["importer_id"].tolist() == [
        "I999",
        "I998",
    ]


def test_pattern_mismatch(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'importer_id' must match the pattern '\^I\[0-9\]\{3\}\$'; "
        r"row 1 \(declaration_id 'D1'\) has 'I12'",
    ):
        validate_frame(_frame(2).assign(importer_id=["I123", "I12"]), mini)
    with pytest.raises(
        SchemaError, match=r"column 'declaration_id' must match the pattern.*row 1 \(declaration_id 'X1'\)"
    ):
        validate_frame(_frame(2).assign(declaration_id=["D0", "X1"]), mini)


def test_unparseable_datetime(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'declared_at' must be a date/time.*row 1 \(declaration_id 'D1'\) has 'yesterday'",
    ):
        validate_frame(_frame(2).assign(declared_at=["2024-01-01", "yesterday"]), mini)
    with pytest.raises(
        SchemaError, match=r"column 'declared_at' must be a date/time.*row 0 \(declaration_id 'D0'\) has 17"
    ):
        validate_frame(_frame(1).assign(declared_at=[17]), mini)
    with pytest.raises(
        SchemaError,
        match=r"column 'declared_at' must be a date/time between 1677-09-21 and 2262-04-11; row 0",
    ):
        validate_frame(_frame(1).assign(declared_at=["2400-01-01"]), mini)


def test_bad_bool(mini: RecordSpec) -> None:
    with pytest.raises(
        SchemaError,
        match=r"column 'perishable' must be true or false.*row 1 \(declaration_id 'D1'\) has 'yes'",
    ):
        validate_frame(_frame(2).assign(perishable=["true", "yes"]), mini)
    with pytest.raises(
        SchemaError, match=r"column 'perishable' must be true or false.*row 0 \(declaration_id 'D0'\) has 2"
    ):
        validate_frame(_frame(2).assign(perishable=[2, 1]), mini)


def test_duplicated_ids_name_both_rows(mini: RecordSpec) -> None:
    frame = _frame(4).assign(declaration_id=["D0", "D1", "D2", "D1"])
    with pytest.raises(
        SchemaError,
        match=r"column 'declaration_id' must hold unique ids; row 3 \(declaration_id 'D1'\) repeats "
        r"the id of row 1 \(declaration_id 'D1'\)\. .*check_ids=False",
    ):
        validate_frame(frame, mini)
    assert len(validate_frame(frame, mini, check_ids=False)) == 4


def test_row_reports_index_label_when_not_default(mini: RecordSpec) -> None:
    frame = _frame(2).assign(cif_value_usd=[1.0, -1.0]).set_axis(["x", "y"])
    with pytest.raises(SchemaError, match=r"row 1 \(index 'y', declaration_id 'D1'\) has -1\.0"):
        validate_frame(frame, mini)


def test_repeated_frame_labels(mini: RecordSpec) -> None:
    frame = pd.concat([_frame(2), _frame(2)[["mode"]]], axis=1)
    with pytest.raises(SchemaError, match=r"repeated column label\(s\) 'mode'"):
        validate_frame(frame, mini)


def test_bad_arguments(mini: RecordSpec) -> None:
    with pytest.raises(ParameterError, match="columns must be"):
        validate_frame(_frame(1), mini, columns="some")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="extra must be"):
        validate_frame(_frame(1), mini, extra="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a pandas DataFrame"):
        validate_frame({"a": [1]}, mini)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# validate_frame: property test
# --------------------------------------------------------------------------------------------------------

_DATES = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 12, 31))
_ROW = st.fixed_dictionaries(
    {
        "declared_at": _DATES,
        "mode": st.sampled_from(["sea", "air", "rail"]),
        "importer_id": st.integers(0, 999).map(lambda i: f"I{i:03d}"),
        "cif_value_usd": st.floats(0, 1e6),
        "packages": st.one_of(st.none(), st.integers(1, 10_000)),
        "perishable": st.sampled_from([True, False, "true", "FALSE", 0, 1]),
        "origin": st.one_of(st.none(), st.sampled_from(["FR", "CN", "US"])),
        "sex": st.sampled_from(["F", "M"]),
        "is_fraud": st.booleans(),
        "seized_value": st.one_of(st.none(), st.floats(0, 1e5)),
    }
)
_ROW_COLUMNS = [
    "declared_at",
    "mode",
    "importer_id",
    "cif_value_usd",
    "packages",
    "perishable",
    "origin",
    "sex",
    "is_fraud",
    "seized_value",
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ROW, max_size=12), as_text=st.booleans())
def test_valid_frames_pass_and_validation_is_idempotent(
    rows: list[dict[str, Any]], as_text: bool, mini: RecordSpec
) -> None:
    frame = pd.DataFrame(rows, columns=_ROW_COLUMNS)
    frame.insert(0, "declaration_id", [f"D{i}" for i in range(len(frame))])
    if as_text and rows:
        frame["declared_at"] = [d.isoformat() for d in frame["declared_at"]]
        frame["cif_value_usd"] = [repr(v) for v in frame["cif_value_usd"]]
    before = frame.copy(deep=True)
    out = validate_frame(frame, mini)
    pd.testing.assert_frame_equal(frame, before)
    assert out.columns.tolist() == mini.names()
    assert out["declared_at"].dtype == "datetime64[ns]"
    assert out["cif_value_usd"].dtype == "float64"
    assert out["perishable"].dtype == bool
    pd.testing.assert_frame_equal(validate_frame(out, mini), out)
    pd.testing.assert_frame_equal(validate_frame(out, mini, columns="all", extra="error"), out)


def test_the_old_validate_frame_path_warns_and_still_works():
    with pytest.warns(DeprecationWarning, match="moved: import it from riskscore"):
        old = spec_module.validate_frame
    assert old is validate_frame


# --------------------------------------------------------------------------------------------------------
# [labels]: where the inspection outcome is and what it means


def _labelled_spec(labels: dict) -> RecordSpec:
    return RecordSpec.from_dict(
        {
            "spec": {"name": "own", "version": 1, "id": "i", "timestamp": "t"},
            "columns": [
                {"name": "i", "type": "string", "role": "id"},
                {"name": "t", "type": "datetime", "role": "timestamp"},
                {"name": "amount", "type": "float", "role": "amount"},
                {"name": "finding", "type": "int", "role": "label", "nullable": True},
                {"name": "checked", "type": "bool", "role": "outcome"},
            ],
            "labels": labels,
        }
    )


def test_labels_round_trip_and_map_values_to_channels():
    spec = _labelled_spec(
        {"outcome": "finding", "values": {"0": "green", "1": "yellow", "2": "red"}, "inspected": "checked"}
    )
    assert spec.labels is not None and spec.labels.channel_of == {"0": "green", "1": "yellow", "2": "red"}
    again = RecordSpec.from_dict(spec.to_dict())
    assert again == spec and again.fingerprint() == spec.fingerprint()
    assert load_spec("shipment").labels.outcome == "observed_channel"


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ({"outcome": "nope"}, r"\[labels\] outcome names 'nope', which is not among the columns"),
        (
            {"outcome": "amount"},
            r"\[labels\] outcome column 'amount' has role 'amount', so it would be a model input",
        ),
        (
            {"outcome": "finding", "values": {"1": "orange"}},
            r"map outcome values to channels green, yellow or red",
        ),
        (
            {"outcome": "finding", "inspcted": "checked"},
            r"unknown key\(s\) 'inspcted' \(did you mean 'inspected'\?\)",
        ),
        ({"values": {"1": "red"}}, r"\[labels\] needs `outcome`"),
    ],
)
def test_bad_labels_are_refused_by_name(labels, match):
    with pytest.raises(SpecError, match=match):
        _labelled_spec(labels)


# --------------------------------------------------------------------------------------------------------
# [policy]
# --------------------------------------------------------------------------------------------------------

POLICY_TOML = """
[policy]
red_share = 0.04
yellow_share = 0.12
random_red = 0.005

[[policy.rules]]
column = "perishable"
op = "=="
value = true
channel = "exempt"
note = "perishable goods clear fast"

[[policy.rules]]
column = "mode"
op = "in"
value = ["rail", "air"]
channel = "yellow"

[[policy.rules]]
column = "cif_value_usd"
op = ">="
value = 50000
channel = "red"
note = "high value"
"""


def _with_policy(policy_toml: str) -> RecordSpec:
    return RecordSpec.from_dict(_toml(MINI_TOML + policy_toml))


def test_policy_is_parsed_into_a_policy_spec() -> None:
    spec = _with_policy(POLICY_TOML)
    policy = spec.policy
    assert isinstance(policy, spec_module.PolicySpec)
    assert (policy.red_share, policy.yellow_share, policy.random_red, policy.random_yellow) == (
        0.04,
        0.12,
        0.005,
        None,
    )
    assert policy.rules[1] == {
        "column": "mode",
        "op": "in",
        "value": ("rail", "air"),
        "channel": "yellow",
        "note": "",
    }
    assert policy.rules[2]["value"] == 50000 and policy.rules[0]["note"] == "perishable goods clear fast"


def test_policy_round_trips_through_dict_and_toml(tmp_path: Path) -> None:
    spec = _with_policy(POLICY_TOML)
    assert RecordSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["policy"]["rules"][1]["value"] == ["rail", "air"]
    path = _write(tmp_path, spec.to_toml(notes={"[policy]": "capacity of 2025"}))
    assert load_spec(path) == spec
    assert "# capacity of 2025\n[policy]\n" in path.read_text(encoding="utf-8")
    assert hash(load_spec(path).policy) == hash(spec.policy)
    assert spec.fingerprint() != RecordSpec.from_dict(_toml(MINI_TOML)).fingerprint()


def test_built_in_specs_have_no_policy() -> None:
    assert load_spec("shipment").policy is None and load_spec("passenger").policy is None
    assert "policy" not in load_spec("shipment").to_dict()


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        (
            'column = "importr_id"\nop = "=="\nvalue = "I100"\nchannel = "red"',
            r"\[\[policy.rules\]\] #1 names column 'importr_id', which is not among the columns \(did you mean "
            r"'importer_id'\?\)",
        ),
        (
            'column = "is_fraud"\nop = "=="\nvalue = true\nchannel = "red"',
            r"names column 'is_fraud', a truth column that a record does not carry when it is lodged",
        ),
        (
            'column = "seized_value"\nop = ">"\nvalue = 0\nchannel = "red"',
            r"names column 'seized_value', an outcome column",
        ),
        ('column = "mode"\nop = "~="\nvalue = "sea"\nchannel = "red"', r"unknown op '~='"),
        (
            'column = "mode"\nop = "=="\nvalue = "sea"\nchannel = "blue"',
            r"channel must be red, yellow or exempt",
        ),
        ('column = "mode"\nop = "in"\nvalue = "sea"\nchannel = "red"', r"op 'in' needs a list of values"),
        ('column = "packages"\nop = ">="\nvalue = "9"\nchannel = "red"', r"op '>=' needs a number"),
        (
            'column = "mode"\nop = ">="\nvalue = 3\nchannel = "red"',
            r"compares column 'mode' with '>=', but it is a category column; ordering operators need a number",
        ),
        ('column = "mode"\nop = "=="\nchannel = "red"', r"missing key\(s\) 'value'"),
        ('column = "mode"\nop = "=="\nvalue = "sea"\nchannel = "red"\nwhy = "x"', r"unknown key\(s\) 'why'"),
    ],
)
def test_bad_policy_rules_are_refused_by_name(rule: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        _with_policy(f"\n[[policy.rules]]\n{rule}\n")


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ("red_share = 1.5", r"\[policy\] red_share is a share and must be a number between 0 and 1, got 1.5"),
        ("red_share = 0.6\nyellow_share = 0.5", r"add up to 1.1; they must not exceed 1"),
        ("red_shares = 0.1", r"unknown key\(s\) 'red_shares' \(did you mean 'red_share'\?\)"),
    ],
)
def test_bad_policy_shares_are_refused(table: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        _with_policy(f"\n[policy]\n{table}\n")


# --------------------------------------------------------------------------------------------------------
# to_toml
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shipment", "passenger"])
def test_to_toml_round_trips_the_built_in_specs(name: str, tmp_path: Path) -> None:
    spec = load_spec(name)
    path = _write(tmp_path, spec.to_toml())
    assert load_spec(path) == spec


def test_to_toml_writes_notes_above_their_entry_and_refuses_strays(mini: RecordSpec) -> None:
    text = mini.to_toml(notes={"mode": "3 distinct values\nclosed list", "[spec]": "inferred"})
    assert '# 3 distinct values\n# closed list\n[[columns]]\nname = "mode"\n' in text
    assert "# inferred\n[spec]\n" in text
    assert "nullable" not in text.split('name = "mode"')[1].split("[[columns]]")[0]  # defaults left out
    with pytest.raises(ParameterError, match=r"notes for 'nope', which spec 'mini' does not hold"):
        mini.to_toml(notes={"nope": "x"})


def test_to_toml_escapes_text(tmp_path: Path) -> None:
    column = ColumnSpec(
        'mã "hàng"\\x',
        "category",
        "category",
        description='line one\nline "two"\t\x01',
        values=("a b", 'c"d'),
        open=True,
        label="Mã hàng",
    )
    spec = RecordSpec(
        "odd",
        1,
        "text with ' and \"",
        "id",
        "at",
        (
            ColumnSpec("id", "string", "id"),
            ColumnSpec("at", "datetime", "timestamp", format="%d/%m/%Y"),
            column,
        ),
    )
    path = _write(tmp_path, spec.to_toml(notes={column.name: "evidence: 2 values"}))
    assert load_spec(path) == spec
