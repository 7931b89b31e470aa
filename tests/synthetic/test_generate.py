"""Generator entry points: determinism, chunking, record invariants, spec conformance, files and bad input."""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskscore.exceptions import OutputError, ParameterError, ScenarioError
from riskscore.synthetic import (
    generate,
    generate_passengers,
    generate_shipments,
    iter_records,
    load_scenario,
    write_records,
)
from riskscore.synthetic import passengers as passengers_module
from riskscore.synthetic import shipments as shipments_module

BLOCK = 65_536
GENERATORS = {"shipments": generate_shipments, "passengers": generate_passengers}
SPEC_OF = {"shipments": "shipment", "passengers": "passenger"}
ID_OF = {"shipments": "declaration_id", "passengers": "trip_id"}
TIME_OF = {"shipments": "declared_at", "passengers": "crossed_at"}

SMALL = settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ------------------------------------------------------------------------------------------ helpers


def assert_same_frame(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Exact equality of two frames, categoricals compared by categories and codes.

    pandas 3's ``assert_frame_equal`` boxes every element of a categorical with string categories (about
    a second per column of 70,000 rows); comparing categories and codes is the same check, done at once.
    """
    assert list(left.columns) == list(right.columns)
    assert left.index.equals(right.index)
    for name in left.columns:
        a, b = left[name], right[name]
        assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
        if isinstance(a.dtype, pd.CategoricalDtype):
            assert a.cat.categories.equals(b.cat.categories), name
            np.testing.assert_array_equal(a.cat.codes.to_numpy(), b.cat.codes.to_numpy(), err_msg=name)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True)


def read_spec(kind: str) -> dict[str, Any]:
    """The record spec TOML as shipped in the package (parsed here, independently of riskscore.spec)."""
    text = resources.files("riskscore").joinpath("specs", f"{SPEC_OF[kind]}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def assert_conforms_to_spec(frame: pd.DataFrame, kind: str) -> None:
    """Columns in spec order, each of the spec's type, within min/max and allowed values, no stray missing."""
    spec = read_spec(kind)
    columns = spec["columns"]
    assert list(frame.columns) == [c["name"] for c in columns]
    for col in columns:
        name, kind_of = col["name"], col["type"]
        series = frame[name]
        dtype = series.dtype
        if kind_of == "int":
            assert pd.api.types.is_integer_dtype(dtype), (name, dtype)
        elif kind_of == "float":
            assert pd.api.types.is_float_dtype(dtype), (name, dtype)
        elif kind_of == "bool":
            assert pd.api.types.is_bool_dtype(dtype), (name, dtype)
        elif kind_of == "datetime":
            assert pd.api.types.is_datetime64_dtype(dtype), (name, dtype)
        elif kind_of == "category":
            assert isinstance(dtype, pd.CategoricalDtype), (name, dtype)
        elif kind_of == "string":
            assert pd.api.types.is_string_dtype(dtype), (name, dtype)
        else:  # pragma: no cover - a new spec type needs a check here
            raise AssertionError(f"unknown spec type {kind_of!r} for {name!r}")
        if not col.get("nullable", False):
            assert not series.isna().any(), f"non-nullable column {name!r} has missing values"
        present = series.dropna()
        if "min" in col:
            assert (present >= col["min"]).all(), (name, present.min(), col["min"])
        if "max" in col:
            assert (present <= col["max"]).all(), (name, present.max(), col["max"])
        if "values" in col:
            allowed = set(col["values"])
            assert set(present.astype(str).unique()) <= allowed, (name, set(present.unique()) - allowed)
            if kind_of == "category":
                assert set(dtype.categories) <= allowed, (name, set(dtype.categories) - allowed)
        if "pattern" in col:
            text = present.astype(str)
            assert text.str.fullmatch(col["pattern"]).all(), (
                name,
                text[~text.str.fullmatch(col["pattern"])][:5],
            )
    assert frame[spec["spec"]["id"]].is_unique
    # roles and name prefixes agree: truth and oracle columns are recognisable by name
    for col in columns:
        assert (col["role"] == "truth") == col["name"].startswith("truth_"), col["name"]
        assert (col["role"] == "oracle") == col["name"].startswith("oracle_"), col["name"]


def assert_common_invariants(frame: pd.DataFrame, kind: str, start: dt.date, days: int) -> None:
    """Invariants shared by both kinds: ids, period, truth/oracle consistency and the legacy outcome."""
    assert frame[ID_OF[kind]].is_unique
    t = frame[TIME_OF[kind]]
    assert (t >= pd.Timestamp(start)).all()
    assert (t < pd.Timestamp(start) + pd.Timedelta(days=days)).all()
    assert t.dt.normalize().is_monotonic_increasing  # records come in day order

    pv, py, pr = (frame[f"oracle_p_{k}"].to_numpy() for k in ("violation", "yellow", "red"))
    for p in (pv, py, pr):
        assert np.isfinite(p).all()
        assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(py + pr, pv, rtol=0, atol=1e-9)

    violation = frame["truth_violation"].to_numpy(dtype=bool)
    np.testing.assert_array_equal(frame["truth_mechanism"].notna().to_numpy(), violation)
    np.testing.assert_array_equal((frame["truth_severity"] == "none").to_numpy(), ~violation)
    np.testing.assert_array_equal((frame["truth_channel"] == "green").to_numpy(), ~violation)
    assert (frame["truth_revenue_at_stake_usd"] >= 0).all()

    inspected = frame["inspected"].to_numpy(dtype=bool)
    np.testing.assert_array_equal(inspected, (frame["legacy_channel"] != "green").to_numpy())
    np.testing.assert_array_equal(frame["observed_label"].isna().to_numpy(), ~inspected)
    found = frame["observed_label"].fillna(False).to_numpy(dtype=bool)
    assert not (found & ~violation).any(), "an inspection found a violation in a compliant record"
    np.testing.assert_array_equal((frame["legacy_reason"] == "none").to_numpy(), ~inspected)

    legacy = load_scenario("default").params[kind]["legacy"]
    floor = legacy["random_red"] + (1 - legacy["random_red"]) * legacy["random_yellow"]
    prop = frame["selection_propensity"].to_numpy()
    assert ((prop > 0) & (prop <= 1)).all()
    assert (prop >= floor - 1e-12).all(), (prop.min(), floor)
    reason = frame["legacy_reason"].astype(str).to_numpy()
    assert (prop[inspected & (reason == "rule")] > 0).all()
    # mandatory (regulatory / declared-goods) selections are certain
    mandatory = np.isin(reason, ["regulatory", "declared"])
    np.testing.assert_array_equal(prop[mandatory], 1.0)


def assert_shipment_invariants(frame: pd.DataFrame) -> None:
    assert (frame["net_weight_kg"] <= frame["gross_weight_kg"]).all()
    assert (frame["cif_value_usd"] >= frame["fob_value_usd"]).all()
    for col in (
        "quantity",
        "net_weight_kg",
        "gross_weight_kg",
        "fob_value_usd",
        "freight_usd",
        "insurance_usd",
        "cif_value_usd",
        "tax_declared_usd",
        "duty_rate",
        "truth_cif_value_usd",
        "truth_quantity",
    ):
        assert (frame[col] >= 0).all(), col
    assert (frame["quantity"] > 0).all()
    assert (frame["n_packages"] >= 1).all()
    assert (frame["importer_registered_days"] >= 0).all()
    # temporary imports for re-export are duty- and VAT-suspended
    ti = frame["procedure"] == "temporary_import"
    assert (frame.loc[ti, "tax_declared_usd"] == 0).all()


def assert_passenger_invariants(frame: pd.DataFrame) -> None:
    bag = frame["bag_weight_kg"]
    assert (frame.loc[bag < 2.95, "bag_count"] == 0).all()
    assert (frame.loc[bag >= 3.05, "bag_count"] >= 1).all()
    # one bag per started 23 kg (away from the rounding edges of the 0.1 kg weight)
    away = (bag >= 3.05) & ((bag / 23.0 - np.round(bag / 23.0)).abs() * 23.0 > 0.06)
    np.testing.assert_array_equal(frame.loc[away, "bag_count"], np.ceil(bag[away] / 23.0).astype(np.int64))
    land = (frame["border_type"] == "land_gate").to_numpy()
    for col in (
        "pnr_locator",
        "days_booked_before_travel",
        "payment_form",
        "ticket_type",
        "carrier",
        "flight_number",
        "cabin_class",
        "booking_channel",
    ):
        assert frame.loc[land, col].isna().all(), col
        assert frame.loc[~land, col].notna().all(), col
    assert (frame.loc[~land, "vehicle_type"] == "none").all()
    assert (frame.loc[land, "vehicle_type"] != "none").all()
    assert not frame.loc[land, "transit"].any()
    np.testing.assert_array_equal(frame["travelling_alone"].to_numpy(), (frame["pax_on_pnr"] == 1).to_numpy())
    np.testing.assert_array_equal(frame["dwell_hours"].notna().to_numpy(), frame["transit"].to_numpy())
    duration = frame["trip_duration_days"].notna()
    assert (frame.loc[duration, "ticket_type"] == "round_trip").all()
    assert (frame["declared_currency_usd"] >= 0).all()
    assert (frame["pax_on_pnr"] >= 1).all()


# ---------------------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def shipments_70k() -> pd.DataFrame:
    return generate_shipments(70_000, seed=5)


@pytest.fixture(scope="module")
def passengers_70k() -> pd.DataFrame:
    return generate_passengers(70_000, seed=5)


@pytest.mark.parametrize("kind", ["shipments", "passengers"])
def test_same_seed_same_frame_other_seed_differs(kind):
    make = GENERATORS[kind]
    a = make(3000, seed=42)
    b = make(3000, seed=42)
    assert_same_frame(a, b)
    c = make(3000, seed=43)
    assert not a.equals(c)
    assert not np.array_equal(a["oracle_p_violation"].to_numpy(), c["oracle_p_violation"].to_numpy())
    assert set(a[ID_OF[kind]]).isdisjoint(set(c[ID_OF[kind]]))


def test_frame_comparison_detects_differences():
    frame = generate_passengers(300, seed=1)
    changed = frame.copy()
    changed.loc[5, "sex"] = "M" if frame.loc[5, "sex"] == "F" else "F"
    with pytest.raises(AssertionError, match="sex"):
        assert_same_frame(frame, changed)
    recoded = frame.assign(sex=frame["sex"].cat.reorder_categories(["M", "F"]))
    with pytest.raises(AssertionError):
        assert_same_frame(frame, recoded)
    with pytest.raises(AssertionError):
        assert_same_frame(frame, frame.assign(age=frame["age"] + 1))


@pytest.mark.parametrize("chunk_rows", [1_000, BLOCK, 50_000])
def test_chunked_shipments_equal_one_shot(shipments_70k, chunk_rows):
    chunks = list(iter_records("shipments", 70_000, seed=5, chunk_rows=chunk_rows))
    assert [len(c) for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= chunk_rows
    assert all(isinstance(c.index, pd.RangeIndex) and c.index.start == 0 for c in chunks)
    assert_same_frame(pd.concat(chunks, ignore_index=True), shipments_70k)


@pytest.mark.parametrize("chunk_rows", [1_000, BLOCK, 50_000])
def test_chunked_passengers_equal_one_shot(passengers_70k, chunk_rows):
    chunks = list(iter_records("passengers", 70_000, seed=5, chunk_rows=chunk_rows))
    assert [len(c) for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    assert_same_frame(pd.concat(chunks, ignore_index=True), passengers_70k)


def test_generate_dispatches_to_the_kind(shipments_70k, passengers_70k):
    assert_same_frame(generate("shipments", 70_000, seed=5), shipments_70k)
    assert_same_frame(generate("passengers", 70_000, seed=5), passengers_70k)


@pytest.mark.parametrize("threads", ["1", "4"])
def test_thread_count_does_not_change_the_data(monkeypatch, shipments_70k, passengers_70k, threads):
    monkeypatch.setenv("RISKSCORE_THREADS", threads)
    assert_same_frame(generate_shipments(70_000, seed=5), shipments_70k)
    assert_same_frame(generate_passengers(70_000, seed=5), passengers_70k)


def test_bad_thread_setting_is_reported(monkeypatch):
    monkeypatch.setenv("RISKSCORE_THREADS", "many")
    with pytest.raises(ValueError, match="RISKSCORE_THREADS must be a whole number >= 1; got 'many'"):
        generate_shipments(100, seed=1)


def test_ids_are_sequential_and_tagged_with_the_seed():
    ships = generate_shipments(500, seed=9)
    assert list(ships["declaration_id"][:2]) == ["D0009-000000000", "D0009-000000001"]
    assert ships["declaration_id"].iloc[-1] == "D0009-000000499"
    trips = generate_passengers(500, seed=12)
    assert trips["trip_id"].iloc[0] == "P0012-000000000"


# ------------------------------------------------------------------------------ invariants (property)

_starts = st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2030, 12, 31))


@SMALL
@given(
    n=st.integers(50, 3000),
    seed=st.integers(0, 10_000),
    start=st.none() | _starts,
    days=st.none() | st.integers(1, 400),
)
def test_shipment_invariants(n, seed, start, days):
    frame = generate_shipments(n, seed=seed, start=start, days=days)
    assert len(frame) == n
    sc = load_scenario("default")
    assert_common_invariants(frame, "shipments", start or sc.start, days or sc.days)
    assert_shipment_invariants(frame)
    assert_conforms_to_spec(frame, "shipments")


@SMALL
@given(
    n=st.integers(50, 3000),
    seed=st.integers(0, 10_000),
    start=st.none() | _starts,
    days=st.none() | st.integers(1, 400),
)
def test_passenger_invariants(n, seed, start, days):
    frame = generate_passengers(n, seed=seed, start=start, days=days)
    assert len(frame) == n
    sc = load_scenario("default")
    assert_common_invariants(frame, "passengers", start or sc.start, days or sc.days)
    assert_passenger_invariants(frame)
    assert_conforms_to_spec(frame, "passengers")
    if n >= 2000:
        assert frame["traveller_id"].nunique() < n


def test_invariants_hold_on_the_large_shipment_set(shipments_200k):
    assert_common_invariants(shipments_200k, "shipments", dt.date(2025, 1, 1), 365)
    assert_shipment_invariants(shipments_200k)
    assert_conforms_to_spec(shipments_200k, "shipments")


def test_invariants_hold_on_the_large_passenger_set(passengers_200k):
    assert_common_invariants(passengers_200k, "passengers", dt.date(2025, 1, 1), 365)
    assert_passenger_invariants(passengers_200k)
    assert_conforms_to_spec(passengers_200k, "passengers")
    trips_per_traveller = passengers_200k["traveller_id"].value_counts()
    assert trips_per_traveller.size < len(passengers_200k) / 2
    assert (trips_per_traveller > 1).sum() > 1000


def test_spec_checker_catches_a_violation():
    # The hand-written checker above is itself tested: a value outside the spec must fail it.
    frame = generate_shipments(200, seed=1)
    bad = frame.assign(importer_compliance_level=frame["importer_compliance_level"] + 5)
    with pytest.raises(AssertionError):
        assert_conforms_to_spec(bad, "shipments")
    with pytest.raises(AssertionError):
        assert_conforms_to_spec(frame.iloc[:, ::-1], "shipments")


@pytest.mark.parametrize("kind", ["shipments", "passengers"])
def test_generated_frames_pass_validate_frame(kind):
    from riskscore.validation import validate_frame

    frame = GENERATORS[kind](2000, seed=4)
    out = validate_frame(frame, SPEC_OF[kind], columns="all")
    assert len(out) == len(frame)
    assert list(out.columns) == list(frame.columns)


# ------------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n (number of rows) must be a whole number > 0; got 0"),
        ({"n": -5}, "n (number of rows) must be a whole number > 0; got -5"),
        ({"n": 1.5}, "n (number of rows) must be a whole number > 0; got 1.5"),
        ({"n": True}, "n (number of rows) must be a whole number > 0; got True"),
        ({"n": "100"}, "n (number of rows) must be a whole number > 0; got '100'"),
        ({"n": 10, "seed": -1}, "seed must be a whole number >= 0; got -1"),
        ({"n": 10, "seed": 2.0}, "seed must be a whole number >= 0; got 2.0"),
        ({"n": 10, "days": 0}, "days must be a whole number >= 1"),
        ({"n": 10, "start": "2025-13-01"}, "start must be a date like 2025-01-01; got '2025-13-01'"),
    ],
)
@pytest.mark.parametrize("kind", ["shipments", "passengers"])
def test_bad_arguments_raise_parameter_error(kind, kwargs, message):
    kwargs = dict(kwargs)
    n = kwargs.pop("n")
    with pytest.raises(ParameterError, match=re.escape(message)):
        GENERATORS[kind](n, **kwargs)


def test_iter_records_checks_its_arguments():
    with pytest.raises(ParameterError, match=re.escape("chunk_rows must be a whole number >= 1; got 0")):
        next(iter_records("shipments", 10, chunk_rows=0))
    with pytest.raises(
        ParameterError, match=re.escape("kind must be one of ('shipments', 'passengers'); got 'cargo'")
    ):
        next(iter_records("cargo", 10))  # type: ignore[arg-type]


def test_parameter_error_is_a_value_error():
    with pytest.raises(ValueError, match="n \\(number of rows\\)"):
        generate_shipments(0)


# ------------------------------------------------------------------------------------------- files


@pytest.mark.parametrize("kind", ["shipments", "passengers"])
def test_parquet_round_trip(tmp_path, kind):
    out = tmp_path / "records.parquet"
    written = write_records(kind, 3000, out, seed=8, chunk_rows=700, progress=False)
    assert written == out
    assert os.listdir(tmp_path) == ["records.parquet"]
    back = pd.read_parquet(out)
    assert_same_frame(back, GENERATORS[kind](3000, seed=8))


@pytest.mark.parametrize("kind", ["shipments", "passengers"])
def test_csv_round_trip(tmp_path, kind):
    out = tmp_path / "records.csv"
    write_records(kind, 3000, out, seed=8, chunk_rows=700, progress=False)
    assert os.listdir(tmp_path) == ["records.csv"]
    back = pd.read_csv(out)
    expected = GENERATORS[kind](3000, seed=8)
    assert len(back) == 3000
    assert list(back.columns) == list(expected.columns)
    assert list(back[ID_OF[kind]]) == list(expected[ID_OF[kind]])
    np.testing.assert_allclose(back["oracle_p_violation"], expected["oracle_p_violation"], rtol=1e-12)
    assert (pd.to_datetime(back[TIME_OF[kind]]) == expected[TIME_OF[kind]]).all()
    np.testing.assert_array_equal(back["observed_label"].isna(), expected["observed_label"].isna())


def test_bad_extension_raises_and_creates_nothing(tmp_path):
    with pytest.raises(OutputError, match=re.escape("must end in .parquet or .csv; got '.txt'")):
        write_records("shipments", 100, tmp_path / "records.txt")
    with pytest.raises(OutputError, match="got 'no extension'"):
        write_records("shipments", 100, tmp_path / "records")
    assert os.listdir(tmp_path) == []


def test_missing_folder_raises_and_creates_nothing(tmp_path):
    target = tmp_path / "missing" / "records.parquet"
    with pytest.raises(OutputError, match=r"output folder '.*missing' does not exist; create it first"):
        write_records("shipments", 100, target)
    assert os.listdir(tmp_path) == []


def test_output_error_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        write_records("passengers", 100, tmp_path / "nope" / "x.csv")


def test_bad_scenario_fails_before_any_file_is_created(tmp_path):
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        write_records("shipments", 100, tmp_path / "x.parquet", scenario="nope")
    with pytest.raises(ParameterError, match="n \\(number of rows\\)"):
        write_records("shipments", 0, tmp_path / "x.parquet")
    assert os.listdir(tmp_path) == []


def _fail_on_second_block(monkeypatch: pytest.MonkeyPatch, module: Any, folder: Path) -> list[str]:
    """Make block 1 raise; returns (filled at the crash) the folder's files, to show a temp file existed."""
    original = module.block_columns
    seen: list[str] = []

    def flaky(world: Any, block: int, lo: int, hi: int) -> dict[str, Any]:
        if block == 1:
            seen.extend(os.listdir(folder))
            raise RuntimeError("simulated crash in block 1")
        return original(world, block, lo, hi)

    monkeypatch.setattr(module, "block_columns", flaky)
    return seen


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch, suffix, existing):
    seen = _fail_on_second_block(monkeypatch, shipments_module, tmp_path)
    out = tmp_path / f"records{suffix}"
    if existing:
        out.write_bytes(b"previous contents")
    with pytest.raises(RuntimeError, match="simulated crash in block 1"):
        # small chunks: the first chunk is written to the temporary file before block 1 fails
        write_records("shipments", BLOCK + 5_000, out, seed=2, chunk_rows=10_000, progress=False)
    assert any(name.endswith(".part") for name in seen), seen  # the write had started
    if existing:
        assert os.listdir(tmp_path) == [out.name]
        assert out.read_bytes() == b"previous contents"
    else:
        assert os.listdir(tmp_path) == []


def test_interrupted_passenger_write_leaves_nothing_behind(tmp_path, monkeypatch):
    seen = _fail_on_second_block(monkeypatch, passengers_module, tmp_path)
    out = tmp_path / "trips.parquet"
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_records("passengers", BLOCK + 100, out, seed=2, chunk_rows=1_000, progress=False)
    assert any(name.endswith(".part") for name in seen), seen
    assert os.listdir(tmp_path) == []


def test_write_replaces_an_existing_file(tmp_path):
    out = tmp_path / "records.parquet"
    out.write_bytes(b"old")
    write_records("passengers", 500, out, seed=1, progress=False)
    assert len(pd.read_parquet(out)) == 500
    assert os.listdir(tmp_path) == ["records.parquet"]
