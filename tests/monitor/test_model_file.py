"""The monitoring state in the model file: ``monitor.json``, optional, validated, outside the model version."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import riskscore
from riskscore.artifact import read_artifact, write_artifact
from riskscore.monitoring import monitor

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def _members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return sorted(zf.namelist())


def _rewritten(source: Path, target: Path, edit: Any) -> Path:
    """A copy of a model file whose ``monitor.json`` ``edit`` changed (hashes recomputed, so only its content
    is wrong)."""
    manifest, members = read_artifact(source)
    profile = json.loads(members["monitor.json"])
    edit(profile)
    members["monitor.json"] = json.dumps(profile).encode()
    for key in ("created_by", "format", "format_version", "members"):
        manifest.pop(key)
    return write_artifact(target, manifest=manifest, members=members)


def test_the_profile_survives_the_model_file(shipments, shipment_model_file):
    model = shipments.model
    assert "monitor.json" in _members(shipment_model_file)
    loaded = riskscore.load(shipment_model_file)
    assert loaded.monitoring == model.monitoring
    assert loaded.created_by == f"riskscore {riskscore.__version__}"
    batch = shipments.window("validation")
    assert monitor(loaded, batch, num_threads=1).to_dict() == monitor(model, batch, num_threads=1).to_dict()


def test_the_monitoring_state_changes_neither_the_version_nor_the_scores(shipments, tmp_path):
    model = shipments.model
    bare = copy.copy(model)
    bare.monitoring = None
    path = bare.save(tmp_path / "bare.rsk")
    assert "monitor.json" not in _members(path)
    loaded = riskscore.load(path)
    assert loaded.monitoring is None
    assert loaded.version == model.version
    batch = shipments.window("validation")
    pd.testing.assert_frame_equal(loaded.predict(batch), model.predict(batch))


def test_an_older_model_file_loads_predicts_and_says_it_cannot_be_monitored():
    golden = GOLDEN / "shipment_v1.rsk"
    assert "monitor.json" not in _members(golden)
    model = riskscore.load(golden)
    inputs = pd.read_parquet(GOLDEN / "shipment_v1_inputs.parquet")
    expected = pd.read_parquet(GOLDEN / "shipment_v1_expected.parquet")
    got = model.predict(inputs)
    assert (got["record_id"].astype(str) == expected["record_id"].astype(str)).all()
    assert (got["risk_score"] - expected["risk_score"]).abs().max() <= 1e-12
    with pytest.raises(riskscore.ParameterError) as info:
        monitor(model, inputs)
    message = str(info.value)
    assert "no monitoring state" in message
    assert f"written by {model.created_by}" in message and model.created_by.startswith("riskscore ")
    assert "Retrain the model with this version of riskscore" in message


def test_a_model_built_in_memory_without_state_says_so(shipments):
    bare = copy.copy(shipments.model)
    bare.monitoring = None
    with pytest.raises(
        riskscore.ParameterError, match=r"no monitoring state: this model was written by code"
    ):
        monitor(bare, shipments.window("validation"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p["fields"][
                next(i for i, f in enumerate(p["fields"]) if f["kind"] == "numeric")
            ].update(edges=[2.0, 1.0]),
            r"monitor\.json field 'fields\[\d+\]\.edges' \(bin edges\) must be strictly increasing",
        ),
        (
            lambda p: p["risk"].update(shares=[0.5, 0.5]),
            r"monitor\.json field 'risk\.shares' must hold \d+ shares for \d+ bin edges; found 2",
        ),
        (
            lambda p: p["fields"][0].update(name="truth_violation"),
            r"'fields\[0\]\.name' is 'truth_violation', not a declared column",
        ),
        (
            lambda p: p["channels"]["reference"].update(red=1.5),
            r"'channels\.reference\.red' must be a finite number in \[0, 1\]",
        ),
        (
            lambda p: p.update(hit_rate={"inspected": 3, "hits": 5}),
            r"'hit_rate\.hits' is 5, more than the 3 inspected",
        ),
        (
            lambda p: p.update(version=2),
            r"layout version 2, newer than this riskscore reads \(1\); upgrade riskscore",
        ),
    ],
    ids=["edges", "risk-shares", "truth-field", "share-range", "hits", "newer"],
)
def test_a_damaged_profile_is_refused_naming_the_field(shipment_model_file, tmp_path, edit, message):
    path = _rewritten(shipment_model_file, tmp_path / "edited.rsk", edit)
    with pytest.raises(riskscore.ArtifactError, match=message):
        riskscore.load(path)


def test_a_profile_that_is_not_json_is_refused(shipment_model_file, tmp_path):
    manifest, members = read_artifact(shipment_model_file)
    members["monitor.json"] = b"{not json"
    for key in ("created_by", "format", "format_version", "members"):
        manifest.pop(key)
    path = write_artifact(tmp_path / "broken.rsk", manifest=manifest, members=members)
    with pytest.raises(riskscore.ArtifactError, match=r"member 'monitor\.json' is not valid JSON"):
        riskscore.load(path)
