"""Signed model files, tampering, unsafe content and atomic writes under a killed writer."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskscore
from riskscore import ArtifactError
from riskscore import artifact as artifact_mod

SECRET = "correct horse battery staple 42"
OTHER_SECRET = "a different secret of some length"
KEY_ENV = "RISKSCORE_SIGNING_KEY"
RING_ENV = "RISKSCORE_KEYRING"
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def no_keys_in_env(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(RING_ENV, raising=False)


@pytest.fixture(scope="module")
def files(small_model, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "unsigned": small_model.save(folder / "unsigned.rsk"),
        "signed": small_model.save(folder / "signed.rsk", signing_key=SECRET, key_id="k1"),
    }


@pytest.fixture(scope="module")
def batch(test_window) -> pd.DataFrame:
    return test_window.head(100)


@pytest.fixture(scope="module")
def expected(small_model, batch) -> pd.DataFrame:
    return small_model.predict(batch)


def _copy(src: Path, folder: Path, name: str = "model.rsk") -> Path:
    dst = folder / name
    shutil.copyfile(src, dst)
    return dst


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def _canonical(manifest: dict) -> bytes:
    """The manifest bytes the way riskscore writes them (so only the content differs)."""
    return (
        json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False).encode() + b"\n"
    )


def _with_member(entries: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    """Entries with member `name` set to `data` and the manifest's hash and size updated to match."""
    manifest = json.loads(entries["manifest.json"])
    manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    out = {k: v for k, v in entries.items() if k != "signature.json"}
    out["manifest.json"] = _canonical(manifest)
    out[name] = data
    return out


# ------------------------------------------------------------------------------------------- signatures


def test_signed_file_loads_with_its_key_and_predicts_identically(files, batch, expected):
    signature = json.loads(_entries(files["signed"])["signature.json"])
    manifest_raw = _entries(files["signed"])["manifest.json"]
    assert signature["alg"] == "HMAC-SHA256" and signature["key_id"] == "k1"
    assert signature["mac"] == hmac.new(SECRET.encode(), manifest_raw, hashlib.sha256).hexdigest()
    assert "signature.json" not in _entries(files["unsigned"])

    model = riskscore.load(files["signed"], require_signature=True, key=SECRET)
    pd.testing.assert_frame_equal(model.predict(batch), expected, check_exact=True)
    model = riskscore.load(files["signed"], require_signature=True, key={"k1": SECRET, "k0": OTHER_SECRET})
    pd.testing.assert_frame_equal(model.predict(batch), expected, check_exact=True)


def test_wrong_key_is_refused(files):
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(files["signed"], require_signature=True, key=OTHER_SECRET)
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(files["signed"], key={"k1": OTHER_SECRET})  # checked whenever a key is available


def test_unsigned_file_is_refused_when_a_signature_is_required(files):
    with pytest.raises(ArtifactError, match="not signed"):
        riskscore.load(files["unsigned"], require_signature=True, key=SECRET)
    riskscore.load(files["unsigned"])  # still fine when no signature is required


def test_signed_file_without_any_key_is_refused_when_a_signature_is_required(files):
    with pytest.raises(ArtifactError, match="no such key"):
        riskscore.load(files["signed"], require_signature=True)
    with pytest.raises(ArtifactError, match="no such key"):
        riskscore.load(files["signed"], require_signature=True, key={"k7": SECRET, "k8": OTHER_SECRET})


def test_key_from_environment(files, monkeypatch, batch, expected):
    monkeypatch.setenv(KEY_ENV, SECRET)
    model = riskscore.load(files["signed"], require_signature=True)
    pd.testing.assert_frame_equal(model.predict(batch), expected, check_exact=True)
    monkeypatch.setenv(KEY_ENV, OTHER_SECRET)
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(files["signed"], require_signature=True)


def test_key_from_keyring_file(files, monkeypatch, tmp_path, batch, expected):
    ring = tmp_path / "keyring.json"
    ring.write_text(json.dumps({"k0": OTHER_SECRET, "k1": SECRET}), encoding="utf-8")
    monkeypatch.setenv(RING_ENV, str(ring))
    model = riskscore.load(files["signed"], require_signature=True)
    pd.testing.assert_frame_equal(model.predict(batch), expected, check_exact=True)

    ring.write_text(json.dumps({"k0": OTHER_SECRET, "k1": OTHER_SECRET}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(files["signed"], require_signature=True)
    ring.write_text(json.dumps({"k0": SECRET, "k2": SECRET}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="no such key"):
        riskscore.load(files["signed"], require_signature=True)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "riskscore"), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_cli_sign_then_score_with_required_signature(files, tmp_path, batch, expected):
    model = _copy(files["unsigned"], tmp_path, "to-sign.rsk")
    unsigned = _copy(files["unsigned"], tmp_path, "unsigned.rsk")
    data = tmp_path / "records.parquet"
    batch.to_parquet(data, index=False)
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, RING_ENV)}
    env[KEY_ENV] = SECRET

    signed = _cli("sign", "--model", str(model), env=env)
    assert signed.returncode == 0, signed.stderr
    assert "signature.json" in _entries(model)
    riskscore.load(model, require_signature=True, key=SECRET)  # signed in place with the env key

    out = tmp_path / "scores.parquet"
    scored = _cli(
        "score",
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        "--require-signature",
        "--no-progress",
        env=env,
    )
    assert scored.returncode == 0, scored.stderr
    got = pd.read_parquet(out)
    assert len(got) == len(batch)
    np.testing.assert_array_equal(got["risk_score"].to_numpy(), expected["risk_score"].to_numpy())

    refused_out = tmp_path / "refused.parquet"
    refused = _cli(
        "score",
        "--model",
        str(unsigned),
        "--data",
        str(data),
        "--out",
        str(refused_out),
        "--require-signature",
        "--no-progress",
        env=env,
    )
    assert refused.returncode == 2, refused.stderr
    assert "not signed" in refused.stderr
    assert not refused_out.exists()


# ------------------------------------------------------------------------------------------- tampering


def test_flipped_byte_in_a_signed_model_is_refused(files, tmp_path):
    path = _copy(files["signed"], tmp_path)
    entries = _entries(path)
    text = bytearray(entries["model.txt"])
    pos = len(text) // 2
    text[pos] ^= 0x01
    entries["model.txt"] = bytes(text)  # manifest and signature kept as they were
    _rezip(path, entries)
    with pytest.raises(ArtifactError, match=r"member model\.txt was modified: sha256"):
        riskscore.load(path, require_signature=True, key=SECRET)
    with pytest.raises(ArtifactError, match=r"member model\.txt was modified: sha256"):
        riskscore.load(path)


def test_altered_manifest_breaks_the_signature(files, tmp_path):
    path = _copy(files["signed"], tmp_path)
    entries = _entries(path)
    manifest = json.loads(entries["manifest.json"])
    manifest["policy"]["red_threshold"] = 0.999  # nobody goes red any more
    entries["manifest.json"] = _canonical(manifest)
    _rezip(path, entries)  # the old signature.json is kept
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(path, require_signature=True, key=SECRET)
    with pytest.raises(ArtifactError, match="signature does not match"):
        riskscore.load(path, key=SECRET)
    # the alteration is real: only the signature stands between it and scoring
    assert riskscore.load(path).policy.red_threshold_ == 0.999


@pytest.mark.parametrize("in_zip", [True, False], ids=["entry-in-zip", "manifest-only"])
def test_member_path_outside_the_file_is_refused(files, tmp_path, in_zip):
    folder = tmp_path / "inner"
    folder.mkdir()
    path = _copy(files["unsigned"], folder)
    payload = b"owned\n"
    entries = _with_member(_entries(path), "../evil.txt", payload)
    if not in_zip:
        del entries["../evil.txt"]
    _rezip(path, entries)
    with pytest.raises(ArtifactError, match=r"'\.\./evil\.txt'.*not allowed"):
        riskscore.load(path)
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["model.rsk"]


def test_zip_bomb_is_refused(files, tmp_path):
    path = _copy(files["unsigned"], tmp_path)
    bomb = b"0" * (16 * 2**20)  # 16 MiB that deflate to ~16 KiB
    _rezip(path, _with_member(_entries(path), "model.txt", bomb))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.txt")
        assert info.file_size > 200 * info.compress_size
    with pytest.raises(ArtifactError, match="zip bomb"):
        riskscore.load(path)


class _Payload:
    """Unpickling this creates a marker folder (what an unsafe loader would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("member", ["model.pkl", "estimator.pickle", "model.txt", "features.json"])
def test_pickle_member_is_refused_and_never_unpickled(files, tmp_path, member):
    marker = tmp_path / "unpickled"
    data = pickle.dumps(_Payload(marker))
    pickle.loads(data)  # the payload works...
    assert marker.is_dir()
    marker.rmdir()
    path = _copy(files["unsigned"], tmp_path)
    _rezip(path, _with_member(_entries(path), member, data))
    try:
        riskscore.load(path)
    except ArtifactError:
        pass
    except Exception as exc:
        pytest.fail(f"loading a pickle as {member} raised {type(exc).__name__}, not ArtifactError: {exc}")
    else:
        pytest.fail(f"a model file whose {member} is a pickle loaded without error")
    assert not marker.exists(), "...and loading the model file must never run it"


@pytest.mark.parametrize(
    ("member", "data"),
    [("model.txt", b"hello"), ("model.txt", b"tree\nversion=v4\n"), ("features.json", b"{}")],
    ids=["model-text", "model-header-only", "features-empty"],
)
def test_member_that_does_not_parse_is_an_artifact_error(files, tmp_path, member, data):
    # hashes match (an unsigned file rewritten consistently): loading must still fail as ArtifactError
    path = _copy(files["unsigned"], tmp_path)
    _rezip(path, _with_member(_entries(path), member, data))
    try:
        riskscore.load(path)
    except ArtifactError as exc:
        assert str(path) in str(exc)
    except Exception as exc:
        pytest.fail(f"an unparseable {member} raised {type(exc).__name__}, not ArtifactError: {exc}")
    else:
        pytest.fail(f"a model file with an unparseable {member} loaded")


# ------------------------------------------------------------------------------------------- atomic writes

WRITER = """
import sys
import riskscore

model = riskscore.load(sys.argv[1])
print("ready", flush=True)
while True:
    model.save(sys.argv[2])
"""


def _kill_while_saving(source: Path, target: Path, delay: float) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, RING_ENV)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(source), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.poll() is not None else line
        time.sleep(delay)
        assert proc.poll() is None, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def test_killed_writer_never_leaves_a_partial_file(files, tmp_path, batch, expected):
    source = files["unsigned"]
    original = source.read_bytes()
    target = tmp_path / "out" / "model.rsk"
    target.parent.mkdir()
    rng = random.Random(5)
    for attempt in range(3):
        existed = target.exists()
        _kill_while_saving(source, target, delay=0.5 + rng.uniform(-0.2, 0.2))
        if existed:
            assert target.exists(), f"attempt {attempt}: the model that was there is gone"
        if target.exists():
            assert target.read_bytes() == original, f"attempt {attempt}: {target} is not the complete model"
            model = riskscore.load(target)
            pd.testing.assert_frame_equal(model.predict(batch), expected, check_exact=True)
        leftovers = [p for p in target.parent.iterdir() if p != target]
        assert all(p.name.startswith(".model.rsk.") and p.name.endswith(".part") for p in leftovers), (
            leftovers
        )
        if attempt == 0 and not target.exists():
            shutil.copyfile(source, target)  # the next attempts start from an existing model
    assert target.exists()


# ------------------------------------------------------------------------------------------- weak keys

MAKE_KEY = r"use at least 16 bytes, e\.g\. `python -c 'import secrets; print\(secrets\.token_hex\(32\)\)'`"
SHORT_KEYS = pytest.mark.parametrize("weak", ["", "k", "x" * 15], ids=["empty", "1-byte", "15-byte"])


def _signed_with(path: Path, secret: str, key_id: str = "k1") -> Path:
    """`path` signed by hand with `secret` (riskscore itself refuses to sign with a short key)."""
    entries = {k: v for k, v in _entries(path).items() if k != "signature.json"}
    mac = hmac.new(secret.encode(), entries["manifest.json"], hashlib.sha256).hexdigest()
    entries["signature.json"] = _canonical({"alg": "HMAC-SHA256", "key_id": key_id, "mac": mac})
    _rezip(path, entries)
    return path


@SHORT_KEYS
def test_short_key_is_refused_when_signing(small_model, files, tmp_path, monkeypatch, weak):
    n = len(weak)
    with pytest.raises(
        ArtifactError,
        match=rf"signing key 'default' \(passed as signing_key=\) is {n} bytes long.*{MAKE_KEY}",
    ):
        small_model.save(tmp_path / "new.rsk", signing_key=weak)
    assert not (tmp_path / "new.rsk").exists()
    path = _copy(files["unsigned"], tmp_path)
    with pytest.raises(
        ArtifactError, match=rf"signing key 'default' \(passed as key=\) is {n} bytes long.*{MAKE_KEY}"
    ):
        artifact_mod.sign_artifact(path, key=weak)
    monkeypatch.setenv(KEY_ENV, weak)
    with pytest.raises(
        ArtifactError, match=rf"signing key 'env' \(from {KEY_ENV}\) is {n} bytes long.*{MAKE_KEY}"
    ):
        artifact_mod.sign_artifact(path)
    assert "signature.json" not in _entries(path)


@SHORT_KEYS
def test_short_key_is_refused_when_verifying(files, tmp_path, monkeypatch, weak):
    n = len(weak)
    path = _signed_with(_copy(files["unsigned"], tmp_path), weak)  # a file signed with that very key
    with pytest.raises(
        ArtifactError, match=rf"signing key 'k1' \(passed as key=\) is {n} bytes long.*{MAKE_KEY}"
    ):
        riskscore.load(path, require_signature=True, key={"k1": weak})
    ring = tmp_path / "keyring.json"
    ring.write_text(json.dumps({"k0": SECRET, "k1": weak}), encoding="utf-8")
    monkeypatch.setenv(RING_ENV, str(ring))
    with pytest.raises(
        ArtifactError, match=rf"signing key 'k1' \(in keyring .*keyring\.json\) is {n} bytes long"
    ):
        riskscore.load(path, require_signature=True)
    monkeypatch.delenv(RING_ENV)
    monkeypatch.setenv(KEY_ENV, weak)
    with pytest.raises(ArtifactError, match=rf"signing key 'env' \(from {KEY_ENV}\) is {n} bytes long"):
        riskscore.load(path, require_signature=True)


def test_short_key_is_refused_by_the_verifier_itself(files, tmp_path, monkeypatch):
    # whatever hands the verifier its keys, a short one proves nothing
    path = _signed_with(_copy(files["unsigned"], tmp_path), "k")
    monkeypatch.setattr(artifact_mod, "signing_keys", lambda key=None: {"k1": b"k"})
    with pytest.raises(
        ArtifactError, match=r"signing key 'k1' \(used to verify .*model\.rsk\) is 1 bytes long"
    ):
        riskscore.load(path, require_signature=True)


def test_sixteen_byte_key_signs_and_verifies(small_model, tmp_path, batch, expected):
    for key in ("x" * 16, "é" * 8):  # 16 bytes in UTF-8, 8 characters
        path = small_model.save(tmp_path / "m.rsk", signing_key=key, key_id="k16")
        model = riskscore.load(path, require_signature=True, key={"k16": key})
        pd.testing.assert_frame_equal(model.predict(batch), expected, check_exact=True)
    with pytest.raises(ArtifactError, match="is 15 bytes long"):
        small_model.save(tmp_path / "m.rsk", signing_key="é" * 7 + "x")


def test_cli_sign_refuses_a_one_byte_key(files, tmp_path):
    path = _copy(files["unsigned"], tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, RING_ENV)}
    env[KEY_ENV] = "k"
    signed = _cli("sign", "--model", str(path), env=env)
    assert signed.returncode == 2, signed.stderr
    assert f"signing key 'env' (from {KEY_ENV}) is 1 bytes long" in signed.stderr
    assert "secrets.token_hex(32)" in signed.stderr
    assert "signature.json" not in _entries(path)
