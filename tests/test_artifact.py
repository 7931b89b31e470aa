"""The model file format: round trip, deterministic bytes, atomic writes and refusal of hostile files."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

import riskscore
from riskscore import ArtifactError, ParameterError
from riskscore import artifact as artifact_mod
from riskscore.artifact import FORMAT_VERSION, artifact_info, read_artifact, write_artifact

MIB = 2**20
MODEL_TXT = "tree\nversion=v4\nnum_class=1\n" * 40
FEATURES = {"columns": ["value_per_kg", "origin"], "means": [1.5, 0.25]}


def _members() -> dict[str, bytes | str]:
    return {"model.txt": MODEL_TXT, "features.json": json.dumps(FEATURES), "history.json": b'{"n": 3}'}


def _caller_manifest() -> dict[str, Any]:
    return {
        "spec": {"name": "shipment", "version": 1},
        "metrics": {"auc": 0.91},
        "policy": "green-yellow-red",
    }


def _write_ok(path: Path) -> Path:
    return write_artifact(path, manifest=_caller_manifest(), members=_members())


def _hand_built(
    path: Path,
    members: dict[str, bytes],
    *,
    extra: dict[str, bytes] | None = None,
    manifest: dict[str, Any] | None = None,
    manifest_raw: bytes | None = None,
    compress_type: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write a zip by hand: `members` listed (with correct hashes) in the manifest, `extra` not listed."""
    if manifest_raw is None:
        full = {
            "format": "riskscore-model",
            "format_version": 1,
            "created_by": "riskscore 0.1.0",
            "members": {
                name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                for name, data in members.items()
            },
        }
        full.update(manifest or {})
        manifest_raw = json.dumps(full).encode()
    with zipfile.ZipFile(path, "w", compress_type) as zf:
        zf.writestr("manifest.json", manifest_raw)
        for name, data in {**members, **(extra or {})}.items():
            zf.writestr(name, data)
    return path


def _zip_entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def _patch_central_header(path: Path, member: str, field_offset: int, fmt: str, value: int) -> None:
    """Overwrite one field of `member`'s central directory header (and the local header for flag bits)."""
    data = bytearray(path.read_bytes())
    start = 0
    patched = False
    while (pos := data.find(b"PK\x01\x02", start)) != -1:
        (name_len,) = struct.unpack_from("<H", data, pos + 28)
        if bytes(data[pos + 46 : pos + 46 + name_len]) == member.encode():
            struct.pack_into(fmt, data, pos + field_offset, value)
            patched = True
        start = pos + 4
    assert patched
    path.write_bytes(bytes(data))


class _MakesDir:
    """A pickle payload: unpickling it creates a folder (what an unsafe loader would do)."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.target,))


# --------------------------------------------------------------------------------------------------------
# Round trip and determinism
# --------------------------------------------------------------------------------------------------------


def test_artifact_error_is_an_oserror():
    assert issubclass(ArtifactError, OSError)
    assert issubclass(ArtifactError, riskscore.RiskscoreError)


def test_round_trip_keeps_manifest_fields_and_member_bytes(tmp_path):
    path = write_artifact(
        tmp_path / "m.rsm", manifest=_caller_manifest(), members={**_members(), "notes.txt": "café ✓"}
    )
    assert path == tmp_path / "m.rsm"
    manifest, members = read_artifact(path)
    for key, value in _caller_manifest().items():
        assert manifest[key] == value
    assert manifest["format"] == "riskscore-model"
    assert manifest["format_version"] == FORMAT_VERSION == 1
    assert manifest["created_by"] == f"riskscore {riskscore.__version__}"
    assert members["model.txt"] == MODEL_TXT.encode("utf-8")
    assert members["history.json"] == b'{"n": 3}'
    assert json.loads(members["features.json"]) == FEATURES
    assert members["notes.txt"] == "café ✓".encode()
    assert list(members) == sorted(members)
    assert manifest["members"]["notes.txt"] == {
        "sha256": hashlib.sha256("café ✓".encode()).hexdigest(),
        "size": len("café ✓".encode()),
    }
    assert artifact_info(path) == manifest


def test_same_content_gives_identical_bytes(tmp_path):
    a = _write_ok(tmp_path / "a.rsm")
    reordered = dict(reversed(list(_members().items())))
    b = write_artifact(
        tmp_path / "b.rsm", manifest=dict(reversed(list(_caller_manifest().items()))), members=reordered
    )
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(["manifest.json", *_members()])
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)


def test_manifest_bytes_are_canonical(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    raw = _zip_entries(path)["manifest.json"]
    parsed = json.loads(raw)
    assert raw == (json.dumps(parsed, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    assert raw.startswith(b'{\n "created_by": ')


def test_highly_compressible_large_member_is_stored_so_it_stays_loadable(tmp_path):
    zeros = b"0" * (2 * MIB)
    path = write_artifact(tmp_path / "m.rsm", manifest={}, members={"history.json": zeros})
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("history.json").compress_type == zipfile.ZIP_STORED
    assert read_artifact(path)[1]["history.json"] == zeros


# --------------------------------------------------------------------------------------------------------
# Writing: validation and atomicity
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../x.json", "/etc/passwd", "a/b.json", "model.pkl", "Model.txt", "a..json", "", "x" * 70 + ".txt"],
)
def test_write_refuses_bad_member_names(tmp_path, name):
    with pytest.raises(ArtifactError, match=r"member name .* is not allowed: member names must match"):
        write_artifact(tmp_path / "m.rsm", manifest={}, members={name: b"x"})
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_manifest_json_as_member(tmp_path):
    with pytest.raises(ArtifactError, match="reserved for the manifest"):
        write_artifact(tmp_path / "m.rsm", manifest={}, members={"manifest.json": b"{}"})


@pytest.mark.parametrize("key", ["format", "format_version", "members", "created_by"])
def test_write_refuses_reserved_manifest_keys(tmp_path, key):
    with pytest.raises(ArtifactError, match=rf"manifest key\(s\) '{key}' are reserved"):
        write_artifact(tmp_path / "m.rsm", manifest={key: 1}, members=_members())


def test_write_refuses_non_json_manifest(tmp_path):
    with pytest.raises(ArtifactError, match="cannot be written as JSON"):
        write_artifact(tmp_path / "m.rsm", manifest={"metrics": {"auc": float("nan")}}, members=_members())


def test_write_to_missing_folder(tmp_path):
    target = tmp_path / "nope" / "m.rsm"
    with pytest.raises(ArtifactError, match=r"folder .*nope does not exist; create it first"):
        _write_ok(target)


def test_write_to_unwritable_folder(tmp_path, monkeypatch):
    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ArtifactError, match=r"is not writable .*choose a writable folder"):
        _write_ok(tmp_path / "m.rsm")


def test_a_killed_writer_leaves_no_model_temporary_behind(tmp_path):
    path = tmp_path / "m.rsm"
    stale = tmp_path / f".{path.name}.999999999.abcd.part"  # a pid that cannot be alive
    stale.write_bytes(b"half a model")
    _write_ok(path)
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.rsm"]


def test_failed_replace_leaves_existing_file_untouched(tmp_path, monkeypatch):
    path = _write_ok(tmp_path / "m.rsm")
    before = path.read_bytes()

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(artifact_mod.os, "replace", broken_replace)
    with pytest.raises(ArtifactError, match="No space left on device; nothing was changed"):
        write_artifact(path, manifest={"other": True}, members={"model.txt": "different"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.rsm"]


def test_failure_while_writing_members_leaves_no_part_file(tmp_path, monkeypatch):
    path = _write_ok(tmp_path / "m.rsm")
    before = path.read_bytes()
    real_writestr = zipfile.ZipFile.writestr
    calls = []

    def writestr_then_fail(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("interrupted mid-way")
        real_writestr(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr_then_fail)
    with pytest.raises(RuntimeError, match="interrupted mid-way"):
        write_artifact(path, manifest={"other": True}, members={"model.txt": "a", "z.json": "{}"})
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
    assert [p.name for p in tmp_path.iterdir()] == ["m.rsm"]


# --------------------------------------------------------------------------------------------------------
# Reading: refusals
# --------------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match=r"m\.rsm: the file does not exist; check the path"):
        read_artifact(tmp_path / "m.rsm")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(ArtifactError, match="it is a folder"):
        read_artifact(tmp_path)


def test_truncated_file(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"m\.rsm: file is truncated or not a riskscore model"):
        read_artifact(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "m.rsm"
    path.write_text("tree\nversion=v4\n")
    with pytest.raises(ArtifactError, match="file is truncated or not a riskscore model"):
        read_artifact(path)


def test_manifest_missing(tmp_path):
    path = tmp_path / "m.rsm"
    _rezip(path, {"model.txt": b"tree"})
    with pytest.raises(ArtifactError, match=r"no manifest\.json, so it is not a riskscore model"):
        read_artifact(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "manifest.json is not valid JSON"),
        (b'{"format": NaN}', "manifest.json is not valid JSON"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"[" * 100_000 + b"]" * 100_000, "manifest.json is not valid JSON"),
        (b"\xff\xfe", "manifest.json is not valid JSON"),
        (b"[1, 2]", "manifest.json is not a JSON object"),
    ],
)
def test_manifest_not_valid_json(tmp_path, raw, message):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree"}, manifest_raw=raw)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(path)


def test_wrong_format_name(tmp_path):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree"}, manifest={"format": "sklearn-pickle"})
    with pytest.raises(ArtifactError, match="format is 'sklearn-pickle', not 'riskscore-model'"):
        read_artifact(path)


def test_newer_format_version(tmp_path):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree"}, manifest={"format_version": 2})
    with pytest.raises(ArtifactError, match=r"written by a newer riskscore \(format 2\); upgrade riskscore"):
        read_artifact(path)


def test_newer_format_version_is_reported_before_its_new_member_kinds(tmp_path):
    path = _hand_built(tmp_path / "m.rsm", {"weights.npy": b"\x93NUMPY"}, manifest={"format_version": 3})
    with pytest.raises(ArtifactError, match="newer riskscore"):
        read_artifact(path)


@pytest.mark.parametrize(
    ("version", "message"), [(0, "unsupported format 0"), ("1", "'1' is not an integer")]
)
def test_unsupported_format_version(tmp_path, version, message):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree"}, manifest={"format_version": version})
    with pytest.raises(ArtifactError, match=message):
        read_artifact(path)


@pytest.mark.parametrize(
    "name", ["../x.json", "/etc/passwd", "a/b.json", "..\\x.json", "model.pkl", "Model.txt"]
)
def test_disallowed_entry_names(tmp_path, name):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree", name: b"{}"})
    with zipfile.ZipFile(path) as zf:
        assert name in zf.namelist()  # the hostile name really is in the archive
    with pytest.raises(
        ArtifactError, match=r"is not allowed: only flat \.json/\.txt members .*nothing was loaded"
    ):
        read_artifact(path)


def test_pickle_member_is_never_unpickled(tmp_path):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_MakesDir(control)))
    assert control.is_dir()  # the payload is live: an unsafe loader would run it

    marker = tmp_path / "marker"
    payload = pickle.dumps(_MakesDir(marker))
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree", "model.pkl": payload})
    with pytest.raises(ArtifactError, match=r"entry 'model\.pkl' is not allowed.*nothing was loaded"):
        read_artifact(path)
    with pytest.raises(ArtifactError, match=r"model\.pkl"):
        artifact_info(path)
    assert not marker.exists()


def test_unexpected_member(tmp_path):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree"}, extra={"extra.json": b"{}"})
    with pytest.raises(ArtifactError, match=r"unexpected member 'extra\.json' not listed in manifest\.json"):
        read_artifact(path)


def test_member_missing_from_zip(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    entries = _zip_entries(path)
    del entries["features.json"]
    _rezip(path, entries)
    with pytest.raises(ArtifactError, match=r"member 'features\.json' listed in manifest\.json is missing"):
        read_artifact(path)


def test_duplicate_entry(tmp_path):
    path = tmp_path / "m.rsm"
    _hand_built(path, {"model.txt": b"tree"})
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("model.txt", b"evil")
    with pytest.raises(ArtifactError, match=r"'model\.txt' appears more than once"):
        read_artifact(path)


def test_tampered_member_content(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    entries = _zip_entries(path)
    flipped = bytearray(entries["model.txt"])
    flipped[10] ^= 0x01
    entries["model.txt"] = bytes(flipped)
    _rezip(path, entries)
    with pytest.raises(
        ArtifactError, match=r"member model\.txt was modified: sha256 [0-9a-f]{64} expected [0-9a-f]{64}"
    ):
        read_artifact(path)


def test_member_with_changed_size(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    entries = _zip_entries(path)
    entries["history.json"] += b" "
    _rezip(path, entries)
    with pytest.raises(ArtifactError, match=r"member history\.json was modified: size 9 expected 8"):
        read_artifact(path)


def test_entry_lying_about_its_size(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    _patch_central_header(path, "model.txt", 24, "<I", 10)  # declared uncompressed size: 10 bytes
    with pytest.raises(ArtifactError, match=r"member 'model\.txt' is corrupt"):
        read_artifact(path)


def test_encrypted_entry(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    _patch_central_header(path, "model.txt", 8, "<H", 0x1)  # general purpose flag: encrypted
    with pytest.raises(ArtifactError, match=r"member 'model\.txt' is encrypted"):
        read_artifact(path)


def test_unusual_compression_method(tmp_path):
    path = _hand_built(tmp_path / "m.rsm", {"model.txt": b"tree"}, compress_type=zipfile.ZIP_BZIP2)
    with pytest.raises(ArtifactError, match="uses compression method 12"):
        read_artifact(path)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid-looking model whose 20 MiB history.json of zeros compresses about 1000:1."""
    path = tmp_path_factory.mktemp("bomb") / "m.rsm"
    return _hand_built(path, {"model.txt": b"tree", "history.json": bytes(20 * MIB)})


def test_zip_bomb_ratio_is_refused_before_decompressing(zip_bomb, monkeypatch):
    with zipfile.ZipFile(zip_bomb) as zf:
        info = zf.getinfo("history.json")
    assert info.file_size > 200 * info.compress_size
    opened = []
    real_open = zipfile.ZipFile.open

    def spy_open(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy_open)
    with pytest.raises(ArtifactError, match=r"member 'history\.json' expands \d+:1 .*over the 200:1 limit"):
        read_artifact(zip_bomb)
    assert opened == ["manifest.json"]  # nothing but the manifest was decompressed


def test_zip_bomb_size_limit(zip_bomb):
    with pytest.raises(
        ArtifactError, match=r"'history\.json' declares 20971520 bytes, over the limit of 1048576 bytes"
    ):
        read_artifact(zip_bomb, max_member_bytes=MIB)


def test_total_size_limit(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    with pytest.raises(ArtifactError, match=r"in total, over the limit of 100 bytes.*max_total_bytes"):
        read_artifact(path, max_total_bytes=100)


# --------------------------------------------------------------------------------------------------------
# RiskModel files: the manifest's content is validated (riskscore/_manifest.py)
# --------------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_MODEL = ROOT / "tests" / "golden" / f"shipment_v{FORMAT_VERSION}.rsk"


def _with_manifest(path: Path, edit: Any) -> Path:
    """A copy of the golden model whose manifest `edit` changed; member hashes still match (no signature)."""
    entries = _zip_entries(GOLDEN_MODEL)
    manifest = json.loads(entries["manifest.json"])
    edit(manifest)
    entries["manifest.json"] = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    _rezip(path, entries)
    return path


def _set(*path: Any, value: Any) -> Any:
    def edit(manifest: dict[str, Any]) -> None:
        for key in path[:-1]:
            manifest = manifest[key]
        manifest[path[-1]] = value

    return edit


def _delete(*path: Any) -> Any:
    def edit(manifest: dict[str, Any]) -> None:
        for key in path[:-1]:
            manifest = manifest[key]
        del manifest[path[-1]]

    return edit


def _knots(x: Any = None, y: Any = None) -> Any:
    def edit(manifest: dict[str, Any]) -> None:
        if x is not None:
            manifest["calibration"][0] = x(manifest["calibration"][0])
        if y is not None:
            manifest["calibration"][1] = y(manifest["calibration"][1])

    return edit


MANIFEST_DEFECTS = {
    # before: ValueError, TypeError, IndexError escaping load, or a model that loads with nonsense values
    "info-not-an-object": (_set("info", value="abc"), r"'info' must be a JSON object; found 'abc'"),
    "severity-prior-null": (
        _set("severity_prior", value=None),
        r"'severity_prior' must be a finite number in \[0, 1\]; found null",
    ),
    "severity-prior-above-one": (
        _set("severity_prior", value=1.5),
        r"'severity_prior' must be a finite number in",
    ),
    "calibration-one-list": (
        lambda m: m.update(calibration=m["calibration"][:1]),
        r"'calibration' must hold 2 items; found 1",
    ),
    "calibration-risk-of-five": (
        _knots(y=lambda y: [*y[:-1], 5.0]),
        r"'calibration\[1\]' must hold probabilities in \[0, 1\]; found 5\.0",
    ),
    "calibration-lengths-differ": (
        _knots(y=lambda y: y[:-1]),
        r"'calibration' must be two lists of equal length \(x and y knots\); found 1025 and 1024",
    ),
    "calibration-single-knot": (
        _knots(x=lambda x: x[:1], y=lambda y: y[:1]),
        r"'calibration' must hold no knot \(no calibration\) or at least two; found one",
    ),
    "calibration-x-not-increasing": (
        _knots(x=lambda x: [x[1], x[0], *x[2:]]),
        r"'calibration\[0\]' \(the raw scores\) must be strictly increasing",
    ),
    "calibration-y-decreasing": (
        _knots(y=lambda y: [*y[:-1], 0.0]),
        r"'calibration\[1\]' \(the calibrated risks\) must never decrease",
    ),
    "calibration-not-a-number": (
        _knots(y=lambda y: ["0.5", *y[1:]]),
        r"'calibration\[1\]\[0\]' must be a finite number; found '0\.5'",
    ),
    "share-above-one": (
        _set("policy", "red_share", value=1.5),
        r"'policy\.red_share' must be a finite number in \[0, 1\]; found 1\.5",
    ),
    "shares-sum-above-one": (
        _set("policy", "yellow_share", value=0.99),
        r"'policy' shares \(red_share \+ yellow_share \+ random_red \+ random_yellow\) must sum to at most 1",
    ),
    "random-share-negative": (
        _set("policy", "random_red", value=-0.1),
        r"'policy\.random_red' must be a finite number in \[0, 1\]",
    ),
    "threshold-above-one": (
        _set("policy", "red_threshold", value=5),
        r"'policy\.red_threshold' must be a finite number in \[0, 1\]; found 5",
    ),
    "rule-on-unknown-column": (
        _set("policy", "rules", 0, "column", value="aeo_status"),
        r"'policy\.rules\[0\]\.column' is 'aeo_status', not a declared column of the model's spec",
    ),
    "rule-on-truth-column": (
        _set("policy", "rules", 0, "column", value="truth_violation"),
        r"'policy\.rules\[0\]\.column' is 'truth_violation', not a declared column",
    ),
    "rule-unknown-channel": (
        _set("policy", "rules", 1, "channel", value="green"),
        r"'policy\.rules\[1\]\.channel' must be one of 'red', 'yellow', 'exempt'; found 'green'",
    ),
    "rule-comparison-with-text": (
        _set("policy", "rules", 1, "value", value="five"),
        r"'policy\.rules\[1\]\.value' must be a finite number for operator '>='; found 'five'",
    ),
    "rule-ordering-a-text-column": (
        _set("policy", "rules", 1, "column", value="declaration_id"),
        r"'policy\.rules\[1\]\.op' is '>=' on string column 'declaration_id'; it needs a number column",
    ),
    "rule-in-without-a-list": (
        lambda m: m["policy"]["rules"][0].update(op="in", value="1"),
        r"'policy\.rules\[0\]\.value' must be a list for operator 'in'",
    ),
    "rule-missing-key": (_delete("policy", "rules", 0, "op"), r"'policy\.rules\[0\]\.op' is missing"),
    "policy-unknown-key": (
        _set("policy", "exempt_everyone", value=True),
        r"'policy\.exempt_everyone' is not a known field",
    ),
    "estimator-unknown-param": (
        _set("estimator", "params", "boosting", value="dart"),
        r"'estimator\.params\.boosting' is not a known field",
    ),
    "estimator-absurd-threads": (
        _set("estimator", "params", "num_threads", value=10**6),
        r"'estimator\.params\.num_threads' must be an integer in \[-1, 1024\]; found 1000000",
    ),
    "estimator-categorical-out-of-range": (
        _set("estimator", "params", "categorical_features", value=[0, 99]),
        r"'estimator\.params\.categorical_features\[1\]' is 99, not a feature index below n_features = 53",
    ),
    "estimator-best-iteration-zero": (
        _set("estimator", "best_iteration", value=0),
        r"'estimator\.best_iteration' must be an integer in \[1, inf\]; found 0",
    ),
    "estimator-missing": (_delete("estimator"), r"'estimator' is missing"),
    "not-a-risk-model": (
        _set("kind", value="sklearn.Pipeline"),
        r"'kind' must be one of 'riskscore\.RiskModel'",
    ),
}


@pytest.mark.parametrize("defect", sorted(MANIFEST_DEFECTS))
def test_manifest_content_is_validated_naming_field_and_fix(tmp_path, defect):
    edit, message = MANIFEST_DEFECTS[defect]
    path = _with_manifest(tmp_path / "m.rsk", edit)
    with pytest.raises(ArtifactError, match=rf"cannot load model .*m\.rsk: manifest field {message}") as info:
        riskscore.load(path)
    assert "do not use this file" in str(info.value) and "riskscore sign" in str(info.value)


def test_manifest_best_iteration_must_fit_the_lightgbm_model(tmp_path):
    # the schema accepts any best_iteration >= 1; the booster it describes has 29 iterations
    path = _with_manifest(tmp_path / "m.rsk", _set("estimator", "best_iteration", value=30))
    with pytest.raises(ArtifactError, match=r"best_iteration is 30 but the LightGBM model has 29 iterations"):
        riskscore.load(path)


def test_schema_tables_list_exactly_what_riskscore_writes():
    # closed tables refuse unknown keys: a field added on the writing side must be added to the schema
    from riskscore._manifest import ESTIMATOR_PARAMS, POLICY, RULE
    from riskscore.model import ChannelModel
    from riskscore.policy import default_policy

    assert set(ESTIMATOR_PARAMS) == set(ChannelModel().get_params())
    policy = default_policy("shipment").to_dict()
    assert set(POLICY.fields) == set(policy)
    assert set(RULE.fields) == set(policy["rules"][0])


def test_consistent_edit_of_an_unsigned_file_loads_only_a_signature_stops_it(tmp_path):
    # what docs/api.md promises: validation stops nonsense, not a deliberate edit of an unsigned file
    def exempt_everyone(manifest: dict[str, Any]) -> None:
        manifest["policy"]["rules"] = [
            {"column": "aeo", "op": "in", "value": [0, 1], "channel": "exempt", "note": ""}
        ]

    model = riskscore.load(_with_manifest(tmp_path / "edited.rsk", exempt_everyone))
    assert [(r.column, r.channel) for r in model.policy.rules] == [("aeo", "exempt")]

    secret = "a deployment key of 32 characters"
    signed = riskscore.load(GOLDEN_MODEL).save(tmp_path / "signed.rsk", signing_key=secret)
    entries = _zip_entries(signed)
    manifest = json.loads(entries["manifest.json"])
    exempt_everyone(manifest)
    entries["manifest.json"] = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    _rezip(signed, entries)
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(signed, require_signature=True, key=secret)


# --------------------------------------------------------------------------------------------------------
# Whole-file digests: sha256= and the digests published for the shipped models
# --------------------------------------------------------------------------------------------------------

DIGEST_LINE = re.compile(r"^([0-9a-f]{64})  (models/[a-z_]+\.rsk)$", re.MULTILINE)


def test_shipped_models_match_the_digests_published_in_docs_api_md():
    published = {name: digest for digest, name in DIGEST_LINE.findall((ROOT / "docs" / "api.md").read_text())}
    assert set(published) == {"models/shipment.rsk", "models/passenger.rsk"}
    for name, digest in sorted(published.items()):
        actual = hashlib.sha256((ROOT / name).read_bytes()).hexdigest()
        assert actual == digest, (
            f"{name} has SHA-256 {actual}, docs/api.md publishes {digest}: rebuilt models: update the digests "
            "in docs/api.md"
        )


def test_load_checks_the_published_digest_of_a_shipped_model():
    published = {name: digest for digest, name in DIGEST_LINE.findall((ROOT / "docs" / "api.md").read_text())}
    model = riskscore.load("passenger", sha256=published["models/passenger.rsk"])
    assert model.spec.name == "passenger"
    with pytest.raises(ArtifactError, match=r"passenger\.rsk: its SHA-256 is [0-9a-f]{64}, not the expected"):
        riskscore.load("passenger", sha256=published["models/shipment.rsk"])


def test_sha256_is_compared_before_anything_else(tmp_path):
    path = _write_ok(tmp_path / "m.rsm")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_artifact(path, sha256=digest.upper())[1]["history.json"] == b'{"n": 3}'
    path.write_bytes(b"not a zip at all")  # the digest is what fails, not the zip reader
    with pytest.raises(
        ArtifactError, match=rf"its SHA-256 is [0-9a-f]{{64}}, not the expected {digest}; nothing"
    ):
        read_artifact(path, sha256=digest)
    with pytest.raises(ParameterError, match=r"sha256 must be the model file's SHA-256 as 64 hexadecimal"):
        read_artifact(path, sha256="abc123")
