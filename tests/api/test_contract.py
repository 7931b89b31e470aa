"""The stable contract of riskscore: golden model files, public names, output columns and dtypes, describe()."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore.artifact import FORMAT_VERSION, SUPPORTED_VERSIONS

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NUMERIC = ("risk_score", "p_green", "p_yellow", "p_red")
TEXT = ("record_id", "channel", "selection_reason", "model_version")
TOLERANCE = 1e-12

PUBLIC_NAMES = [
    "load",
    "train",
    "RiskModel",
    "ChannelModel",
    "ChannelPolicy",
    "Rule",
    "OUTPUT_COLUMNS",
    "load_spec",
    "validate_frame",
    "RecordSpec",
    "RiskscoreError",
    "SchemaError",
    "ArtifactError",
    "SpecError",
    "ScenarioError",
    "ParameterError",
    "OutputError",
    "__version__",
]
PINNED_OUTPUT_COLUMNS = (
    "record_id",
    "channel",
    "risk_score",
    "p_green",
    "p_yellow",
    "p_red",
    "selection_reason",
    "model_version",
)

HOW_TO_PROCEED = (
    "The model file format or the scoring changed: a model file saved by an earlier riskscore (format "
    "version {version}) no longer scores its records as it did. If this is unintended, fix the code. If the "
    "change is deliberate, bump riskscore.artifact.FORMAT_VERSION, make new golden files with "
    "`python tests/golden/make_golden.py` (it writes shipment_v<new>.*), KEEP the old golden files and "
    "decide explicitly (release notes, migration) what happens to models saved in the old format. Never "
    "regenerate existing golden files to make this test pass."
)


# ------------------------------------------------------------------------------------------- golden files


def _golden_versions() -> list[int]:
    return sorted(int(p.stem.split("_v")[1]) for p in GOLDEN.glob("shipment_v*.rsk"))


def test_golden_files_exist_for_the_current_format_and_are_small():
    versions = _golden_versions()
    assert FORMAT_VERSION in versions, (
        f"no golden files for model file format {FORMAT_VERSION} in {GOLDEN}; make them once with "
        "`python tests/golden/make_golden.py` and keep the older ones"
    )
    for v in versions:
        for suffix in (".rsk", "_inputs.parquet", "_expected.parquet"):
            assert (GOLDEN / f"shipment_v{v}{suffix}").is_file()
    total = sum(p.stat().st_size for p in GOLDEN.iterdir() if p.is_file())
    assert total < 3 * 2**20, f"golden files total {total:,} bytes; keep them under 3 MB"


@pytest.mark.parametrize("version", _golden_versions())
def test_golden_model_scores_its_records_as_when_it_was_saved(version):
    how = HOW_TO_PROCEED.format(version=version)
    if version not in SUPPORTED_VERSIONS:
        pytest.fail(f"model file format {version} is no longer supported. {how}")
    model = riskscore.load(GOLDEN / f"shipment_v{version}.rsk")
    inputs = pd.read_parquet(GOLDEN / f"shipment_v{version}_inputs.parquet")
    expected = pd.read_parquet(GOLDEN / f"shipment_v{version}_expected.parquet")
    assert len(inputs) == len(expected) == 200

    actual = model.predict(inputs)

    assert list(actual.columns) == list(expected.columns), f"output columns changed. {how}"
    assert len(actual) == len(expected), f"row count changed. {how}"
    for col in TEXT:
        got = actual[col].astype(str).to_numpy()
        want = expected[col].astype(str).to_numpy()
        bad = np.flatnonzero(got != want)
        assert len(bad) == 0, (
            f"column {col!r} differs in {len(bad)} of {len(want)} rows (first: row {bad[0]}, "
            f"got {got[bad[0]]!r}, expected {want[bad[0]]!r}). {how}"
        )
    for col in NUMERIC:
        got = actual[col].to_numpy(dtype=np.float64)
        want = expected[col].to_numpy(dtype=np.float64)
        diff = np.abs(got - want)
        bad = np.flatnonzero(~(diff <= TOLERANCE))
        assert len(bad) == 0, (
            f"column {col!r} differs by up to {np.nanmax(diff):.3g} (> {TOLERANCE}) in {len(bad)} of "
            f"{len(want)} rows (first: row {bad[0]}, got {got[bad[0]]!r}, expected {want[bad[0]]!r}). {how}"
        )


def test_golden_records_are_not_trivial():
    # the golden comparison only protects what the golden records exercise
    expected = pd.read_parquet(GOLDEN / f"shipment_v{FORMAT_VERSION}_expected.parquet")
    assert set(expected["channel"].astype(str)) == {"green", "yellow", "red"}
    assert {"model", "exempt", "none"} <= set(expected["selection_reason"].astype(str))
    assert expected["risk_score"].nunique() > 100


# ------------------------------------------------------------------------------------------- public names


def test_public_names_do_not_disappear():
    missing = sorted(set(PUBLIC_NAMES) - set(riskscore.__all__))
    assert not missing, f"public names removed from riskscore.__all__: {missing}"
    for name in PUBLIC_NAMES:
        assert getattr(riskscore, name) is not None, name
    assert isinstance(riskscore.__version__, str)
    for name in (
        "RiskscoreError",
        "SchemaError",
        "ArtifactError",
        "SpecError",
        "ScenarioError",
        "ParameterError",
        "OutputError",
    ):
        assert issubclass(getattr(riskscore, name), riskscore.RiskscoreError)
    assert issubclass(riskscore.SchemaError, ValueError)
    assert issubclass(riskscore.ArtifactError, OSError)


def test_every_name_in_all_is_importable():
    for name in riskscore.__all__:
        getattr(riskscore, name)


def test_output_columns_are_pinned():
    assert riskscore.OUTPUT_COLUMNS == PINNED_OUTPUT_COLUMNS
    assert isinstance(riskscore.OUTPUT_COLUMNS, tuple)


def _is_text(series: pd.Series) -> bool:
    return (series.dtype == object or isinstance(series.dtype, pd.StringDtype)) and all(
        isinstance(v, str) for v in series
    )


@pytest.mark.parametrize("model_name", ["small_model", "shipped_model"])
def test_predict_output_dtypes_are_stable(request, model_name, test_window):
    model = request.getfixturevalue(model_name)
    out = model.predict(test_window.head(50))
    assert list(out.columns) == list(PINNED_OUTPUT_COLUMNS)
    assert isinstance(out["channel"].dtype, pd.CategoricalDtype)
    assert list(out["channel"].cat.categories) == ["green", "yellow", "red"]
    for col in NUMERIC:
        assert out[col].dtype == np.float64, col
    for col in ("record_id", "selection_reason", "model_version"):
        assert _is_text(out[col]), (col, out[col].dtype)
    assert list(out["record_id"]) == list(test_window["declaration_id"].head(50))

    empty = model.predict(test_window.head(0))
    assert list(empty.columns) == list(PINNED_OUTPUT_COLUMNS)
    assert len(empty) == 0
    assert list(empty["channel"].cat.categories) == ["green", "yellow", "red"]
    for col in NUMERIC:
        assert empty[col].dtype == np.float64, col


# ------------------------------------------------------------------------------------------- describe()


@pytest.mark.parametrize("model_name", ["small_model", "shipped_model"])
def test_describe_says_what_the_model_needs_and_gives(request, model_name):
    model = request.getfixturevalue(model_name)
    d = model.describe()
    spec = riskscore.load_spec("shipment")

    assert isinstance(d["required_columns"], list)
    assert {"declaration_id", "cif_value_usd", "declared_at"} <= set(d["required_columns"])
    assert not {"truth_violation", "oracle_p_violation", "inspected"} & set(d["required_columns"])
    assert d["outputs"] == list(riskscore.OUTPUT_COLUMNS)
    assert d["spec"] == {"name": "shipment", "version": spec.version, "fingerprint": spec.fingerprint()}
    assert d["model_version"] == model.version

    policy = d["policy"]
    for key in ("red_share", "yellow_share", "red_threshold", "yellow_threshold", "rules"):
        assert key in policy, key
    assert 0 <= policy["red_threshold"] <= 1 and 0 <= policy["yellow_threshold"] <= 1

    training = d["training"]
    assert training["model_version"] == model.version
    assert training["training_rows"] > 0
    assert "training_period" in training and "training_data_sha256" in training


def test_describe_reports_the_training_of_this_model(small_result):
    training = small_result.model.describe()["training"]
    assert training["training_rows"] == small_result.train_rows
    assert training["validation_rows"] == small_result.valid_rows


def test_describe_required_columns_are_really_required(small_model, test_window):
    required = small_model.describe()["required_columns"]
    record = test_window.head(1)
    small_model.predict(record[required])  # enough to score
    with pytest.raises(riskscore.SchemaError, match="cif_value_usd"):
        small_model.predict(record.drop(columns=["cif_value_usd"]))
