"""The model file format: one safe, self-describing file per model.

A model file is a zip archive holding ``manifest.json`` and a few flat *members*: for a RiskModel,
``model.txt`` and ``severity.txt`` (LightGBM's native text models of the risk and severity heads) and
``features.json`` (the fitted feature state), plus ``signature.json`` when signed. The manifest names the format and its
version, the riskscore that wrote it, and the SHA-256 and size of every member, next to whatever the caller
stores there (spec, feature parameters, policy, metrics, training data fingerprint)::

    {
     "created_by": "riskscore 0.1.0",
     "format": "riskscore-model",
     "format_version": 1,
     "members": {"model.txt": {"sha256": "...", "size": 123456}},
     ...
    }

Loading never unpickles or executes anything: only ``.json`` and ``.txt`` members may appear, every member
must be listed in the manifest with a matching hash, and sizes and compression ratios are checked before
anything is decompressed. The same content always gives byte-identical files (sorted entries, fixed
timestamps, canonical manifest bytes), and files are written atomically (temporary file, fsync, rename).

:func:`write_artifact` writes a model file, :func:`read_artifact` loads and verifies one, and
:func:`artifact_info` returns a verified manifest only.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, NoReturn

from riskscore._io import temp_beside
from riskscore.exceptions import ArtifactError, ParameterError

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "artifact_info",
    "read_artifact",
    "sign_artifact",
    "signing_keys",
    "write_artifact",
]

#: The format version :func:`write_artifact` writes.
FORMAT_VERSION = 1

#: The format versions :func:`read_artifact` can load.
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

#: Default limit on the uncompressed size of one member (manifest included), in bytes.
MAX_MEMBER_BYTES = 512 * 2**20

#: Default limit on the uncompressed size of all members together, in bytes.
MAX_TOTAL_BYTES = 1 * 2**30

#: Largest uncompressed/compressed ratio accepted for a member above :data:`_RATIO_CHECK_BYTES`.
MAX_COMPRESSION_RATIO = 200

#: Shortest signing key accepted (in bytes, UTF-8 for text keys), for signing and for verifying alike.
MIN_KEY_BYTES = 16

_FORMAT_NAME = "riskscore-model"
_MANIFEST_NAME = "manifest.json"
_SIGNATURE_NAME = "signature.json"  # optional: HMAC-SHA256 over the manifest bytes (which hash every member)
SIGNING_KEY_ENV = "RISKSCORE_SIGNING_KEY"  # the secret itself, as text
KEYRING_ENV = "RISKSCORE_KEYRING"  # path to a JSON file {"key id": "secret", ...}
_RESERVED_KEYS = ("created_by", "format", "format_version", "members")
_MEMBER_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_MEMBER_NAME = re.compile(_MEMBER_PATTERN)
_MEMBER_SUFFIXES = (".json", ".txt")
_MEMBER_RULE = (
    "member names must match ^[a-z0-9][a-z0-9_.-]{0,63}$ (lowercase letters, digits, '_', '.', '-'; "
    "no folders, no '..') and end in .json or .txt"
)
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_MAKE_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"
_RATIO_CHECK_BYTES = 2**20  # members above 1 MiB must not compress more than MAX_COMPRESSION_RATIO:1
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED_FLAG = 0x1
_DEFAULT_MODE = 0o644
_TAMPERED = "do not use this file: it was not written by riskscore or was tampered with"


# --------------------------------------------------------------------------------------------------------
# Helpers shared by reading and writing
# --------------------------------------------------------------------------------------------------------


def _is_member_name(name: object) -> bool:
    """Whether `name` is an allowed member name (``manifest.json`` passes too; callers reserve it)."""
    return (
        isinstance(name, str)
        and _MEMBER_NAME.fullmatch(name) is not None
        and ".." not in name
        and name.endswith(_MEMBER_SUFFIXES)
    )


def _too_compressed(info: zipfile.ZipInfo) -> bool:
    """Whether a zip entry above 1 MiB expands more than ``MAX_COMPRESSION_RATIO`` times (a zip bomb)."""
    return info.file_size > _RATIO_CHECK_BYTES and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes of a manifest: sorted keys, indent 1, UTF-8, strict JSON, final newline.

    These exact bytes are what is stored as ``manifest.json``; a later signing feature can add an HMAC over
    them (stored as its own member) without changing anything else in the format.

    Raises
    ------
    ArtifactError
        If the manifest holds something JSON cannot represent exactly (NaN, infinity, a set, an object).
    """
    try:
        text = json.dumps(dict(manifest), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(
            f"the model manifest cannot be written as JSON ({exc}); store only strings, finite numbers, "
            "booleans, None, lists and dicts with string keys"
        ) from exc
    return text.encode("utf-8") + b"\n"


# --------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------


def _encode_members(members: Mapping[str, bytes | str]) -> dict[str, bytes]:
    """Validate member names and return the members as bytes (``str`` encoded as UTF-8)."""
    if not isinstance(members, Mapping):
        raise ArtifactError(
            f"members must be a mapping of name -> bytes or str, got {type(members).__name__}"
        )
    encoded: dict[str, bytes] = {}
    for name, content in members.items():
        if name == _MANIFEST_NAME:
            raise ArtifactError(
                f"member name {name!r} is not allowed: it is reserved for the manifest; pick another name"
            )
        if not _is_member_name(name):
            raise ArtifactError(f"member name {name!r} is not allowed: {_MEMBER_RULE}")
        if isinstance(content, str):
            encoded[name] = content.encode("utf-8")
        elif isinstance(content, bytes | bytearray | memoryview):
            encoded[name] = bytes(content)
        else:
            raise ArtifactError(f"member {name!r} must be bytes or str, got {type(content).__name__}")
    return encoded


def _full_manifest(manifest: Mapping[str, Any], payloads: Mapping[str, bytes]) -> dict[str, Any]:
    """Return the caller's manifest plus the format fields and the member hashes."""
    from riskscore import __version__  # lazy: riskscore/__init__ may one day import this module

    if not isinstance(manifest, Mapping):
        raise ArtifactError(f"manifest must be a mapping, got {type(manifest).__name__}")
    bad_keys = [key for key in manifest if not isinstance(key, str)]
    if bad_keys:
        raise ArtifactError(f"manifest keys must be strings, got {bad_keys[0]!r}")
    reserved = sorted(key for key in manifest if key in _RESERVED_KEYS)
    if reserved:
        raise ArtifactError(
            f"manifest key(s) {', '.join(repr(k) for k in reserved)} are reserved: riskscore fills in "
            f"{', '.join(_RESERVED_KEYS)} itself; rename or drop them"
        )
    full = dict(manifest)
    full["format"] = _FORMAT_NAME
    full["format_version"] = FORMAT_VERSION
    full["created_by"] = f"riskscore {__version__}"
    full["members"] = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in sorted(payloads.items())
    }
    return full


def _write_zip(fh: IO[bytes], entries: Mapping[str, bytes], stored: frozenset[str]) -> frozenset[str]:
    """Write `entries` as a deterministic zip to `fh`; return the names that compressed too well.

    Entries named in `stored` are written uncompressed (ZIP_STORED); all others are deflated.
    """
    too_compressed: set[str] = set()
    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            info.create_system = 3  # "unix" on every platform, so bytes do not depend on the writer's OS
            info.external_attr = (0o100000 | _DEFAULT_MODE) << 16  # a regular file, rw-r--r--
            zf.writestr(info, entries[name])
            if _too_compressed(info):
                too_compressed.add(name)
    return frozenset(too_compressed)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable where the platform allows it (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_key(key_id: str, secret: bytes, origin: str) -> None:
    """Refuse a signing key shorter than :data:`MIN_KEY_BYTES`, naming it (never showing it)."""
    if len(secret) < MIN_KEY_BYTES:
        # an empty variable is refused rather than ignored: it usually means a secret that failed to arrive,
        # and ignoring it would silently skip verifying signed files
        unset = (
            f" (or unset {SIGNING_KEY_ENV} if you do not sign models)"
            if origin.endswith(SIGNING_KEY_ENV)
            else ""
        )
        raise ArtifactError(
            f"signing key {key_id!r} ({origin}) is {len(secret)} bytes long: a short key can be guessed, and "
            f"whoever guesses it can sign a tampered model; use at least {MIN_KEY_BYTES} bytes, e.g. "
            f"`{_MAKE_KEY}`{unset}"
        )


def _key_bytes(key_id: str, secret: object, origin: str) -> bytes:
    """Return a secret as bytes (``str`` as UTF-8) after checking its type and length."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes):
        raise ArtifactError(
            f"signing key {key_id!r} ({origin}) must be text or bytes, got {type(secret).__name__}; "
            f"make one with `{_MAKE_KEY}`"
        )
    _check_key(key_id, secret, origin)
    return secret


def signing_keys(key: bytes | str | Mapping[str, bytes | str] | None = None) -> dict[str, bytes]:
    """Return the signing keys available, by key id.

    An explicit ``key`` wins (a secret, id ``"default"``, or a mapping of id to secret); otherwise the
    secret in the ``RISKSCORE_SIGNING_KEY`` environment variable (id ``"env"``) and the keys of the JSON
    keyring file named by ``RISKSCORE_KEYRING``.

    Parameters
    ----------
    key : bytes, str or mapping of str to bytes or str, optional
        Explicit key(s); text is taken as UTF-8.

    Returns
    -------
    dict of str to bytes
        The secrets by key id (empty when no key is configured).

    Raises
    ------
    ArtifactError
        If a key, wherever it comes from, is shorter than :data:`MIN_KEY_BYTES` (16) bytes (an empty
        ``RISKSCORE_SIGNING_KEY`` included: unset it rather than leave it empty), or the keyring cannot be
        read. The message names the key id and where it came from, never the secret.
    """
    if key is not None:
        if isinstance(key, Mapping):
            return {str(k): _key_bytes(str(k), v, "passed as key=") for k, v in key.items()}
        return {"default": _key_bytes("default", key, "passed as key=")}
    keys: dict[str, bytes] = {}
    if SIGNING_KEY_ENV in os.environ:
        keys["env"] = _key_bytes("env", os.environ[SIGNING_KEY_ENV], f"from {SIGNING_KEY_ENV}")
    ring = os.environ.get(KEYRING_ENV)
    if ring:
        try:
            data = json.loads(Path(ring).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactError(
                f"keyring {ring} (from {KEYRING_ENV}) cannot be read as JSON ({exc}); "
                'it must hold {"key id": "secret", ...}'
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ArtifactError(f'keyring {ring} must be a JSON object {{"key id": "secret", ...}}')
        keys.update({str(k): _key_bytes(str(k), v, f"in keyring {ring}") for k, v in data.items()})
    return keys


def _mac(secret: bytes, manifest_raw: bytes) -> str:
    return hmac.new(secret, manifest_raw, hashlib.sha256).hexdigest()


def write_artifact(
    path: str | os.PathLike[str],
    *,
    manifest: Mapping[str, Any],
    members: Mapping[str, bytes | str],
    signing_key: bytes | str | None = None,
    key_id: str = "default",
) -> Path:
    """Write a model file atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write. An existing file there is replaced only once the new file is complete.
    manifest : Mapping[str, Any]
        Caller fields stored in ``manifest.json`` (spec, feature parameters, policy, metrics...). Must be
        JSON-serialisable with string keys and finite numbers, and must not use the reserved keys
        ``format``, ``format_version``, ``members`` and ``created_by``, which riskscore fills in.
    members : Mapping[str, bytes or str]
        The member files, e.g. ``{"model.txt": booster.model_to_string(), "features.json": ...}``. Names
        must match ``^[a-z0-9][a-z0-9_.-]{0,63}$`` and end in ``.json`` or ``.txt``; ``str`` content is
        stored as UTF-8.
    signing_key : bytes or str, optional
        Secret of at least :data:`MIN_KEY_BYTES` (16) bytes; the file then carries ``signature.json``, an
        HMAC-SHA256 over the manifest bytes.
    key_id : str, default "default"
        The key's id, stored in the signature so that a reader picks the matching key from its keyring.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ArtifactError
        For a bad member name, a reserved or non-JSON manifest field, content over the size limits, a
        signing key under 16 bytes, a missing or unwritable folder, or any write failure. On failure no
        temporary file is left behind and an existing file at `path` is untouched.

    Notes
    -----
    The file is a zip archive with entries in sorted order, fixed timestamps (1980-01-01) and a canonical
    manifest, so the same content always gives the same bytes. Members are deflated, except a member above
    1 MiB that would compress more than ``MAX_COMPRESSION_RATIO``:1, which is stored uncompressed so that
    :func:`read_artifact` does not take it for a zip bomb.
    """
    target = Path(path)
    payloads = _encode_members(members)
    manifest_raw = _manifest_bytes(_full_manifest(manifest, payloads))
    entries = {**payloads, _MANIFEST_NAME: manifest_raw}
    if signing_key is not None:
        secret = _key_bytes(str(key_id), signing_key, "passed as signing_key=")
        signature = {"alg": "HMAC-SHA256", "key_id": str(key_id), "mac": _mac(secret, manifest_raw)}
        entries[_SIGNATURE_NAME] = _manifest_bytes(signature)
    for name, data in entries.items():
        if len(data) > MAX_MEMBER_BYTES:
            raise ArtifactError(
                f"cannot write model {target}: {name!r} is {len(data)} bytes, over the "
                f"{MAX_MEMBER_BYTES}-byte limit per member that read_artifact applies; make it smaller"
            )
    total = sum(len(data) for data in entries.values())
    if total > MAX_TOTAL_BYTES:
        raise ArtifactError(
            f"cannot write model {target}: members total {total} bytes, over the "
            f"{MAX_TOTAL_BYTES}-byte limit that read_artifact applies; make them smaller"
        )

    folder = target.parent
    if not folder.is_dir():
        raise ArtifactError(
            f"cannot write model {target}: folder {folder} does not exist; create it first "
            f"(mkdir -p {folder}) or choose another path"
        )
    if target.is_dir():
        raise ArtifactError(
            f"cannot write model {target}: it is a folder; give a file path such as {target}/model.rsm"
        )
    try:
        existing_mode = target.stat().st_mode & 0o777
    except OSError:
        existing_mode = _DEFAULT_MODE
    try:
        # the same temporaries as every writer: named for the writer's PID, stale ones of a killed
        # writer removed first
        tmp = temp_beside(target)
    except OSError as exc:
        raise ArtifactError(
            f"cannot write model {target}: folder {folder} is not writable ({exc}); fix its permissions or "
            "choose a writable folder"
        ) from exc

    try:
        with open(tmp, "w+b") as fh:
            stored = _write_zip(fh, entries, frozenset())
            if stored:  # rare: a huge, highly repetitive member; keep the file loadable
                fh.seek(0)
                fh.truncate()
                _write_zip(fh, entries, stored)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, existing_mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, ArtifactError):
            raise ArtifactError(
                f"cannot write model {target}: {exc}; nothing was changed at that path. Check free disk "
                "space and permissions, then retry"
            ) from exc
        raise
    _fsync_folder(folder)
    return target


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------


def _reject(path: Path, problem: str, todo: str) -> NoReturn:
    raise ArtifactError(f"cannot load model {path}: {problem}; {todo}")


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: Path) -> bytes:
    """Decompress one entry, never producing more than ``min(declared size, limit) + 1`` bytes."""
    bound = min(info.file_size, limit)
    try:
        with zf.open(info) as fh:
            data = fh.read(bound + 1)
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError, RuntimeError) as exc:
        _reject(path, f"member {info.filename!r} is corrupt ({exc})", "re-copy or re-save the model file")
    if len(data) > bound:
        _reject(
            path,
            f"member {info.filename!r} decompresses to more than its declared size or the {limit}-byte limit "
            "(possible zip bomb); nothing was loaded",
            _TAMPERED,
        )
    return data


def _reject_json_constant(token: str) -> NoReturn:
    raise ValueError(f"{token} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_manifest(raw: bytes, path: Path) -> dict[str, Any]:
    """Parse and check ``manifest.json``: strict JSON object, known format, supported version."""
    todo = "the file is damaged; re-copy or re-save the model"
    try:
        manifest = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_json_constant, object_pairs_hook=_no_duplicate_keys
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        _reject(path, f"manifest.json is not valid JSON ({exc})", todo)
    if not isinstance(manifest, dict):
        _reject(path, f"manifest.json is not a JSON object (got {type(manifest).__name__})", todo)
    fmt = manifest.get("format")
    if fmt != _FORMAT_NAME:
        _reject(
            path,
            f"manifest format is {fmt!r}, not {_FORMAT_NAME!r}, so this is not a riskscore model",
            "pass a model file written by riskscore",
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        _reject(path, f"format_version {version!r} is not an integer", todo)
    if version not in SUPPORTED_VERSIONS:
        if version > max(SUPPORTED_VERSIONS):
            _reject(path, f"written by a newer riskscore (format {version})", "upgrade riskscore to load it")
        _reject(
            path,
            f"unsupported format {version} (this riskscore reads format "
            f"{', '.join(str(v) for v in SUPPORTED_VERSIONS)})",
            "retrain and save the model with this riskscore",
        )
    return manifest


def _declared_members(manifest: Mapping[str, Any], path: Path) -> dict[str, tuple[str, int]]:
    """Return ``{name: (sha256, size)}`` from a parsed manifest, checking its structure."""
    members = manifest.get("members")
    todo = "the file is damaged or was tampered with; re-save the model"
    if not isinstance(members, dict):
        _reject(path, "manifest.json has no 'members' table", todo)
    declared: dict[str, tuple[str, int]] = {}
    for name, entry in members.items():
        if name == _MANIFEST_NAME or not _is_member_name(name):
            _reject(
                path,
                f"manifest lists member {name!r}, which is not allowed "
                "(only .json/.txt members are allowed); nothing was loaded",
                _TAMPERED,
            )
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or _SHA256_HEX.fullmatch(sha) is None:
            _reject(path, f"manifest entry of member {name!r} has no valid sha256", todo)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            _reject(path, f"manifest entry of member {name!r} has no valid size", todo)
        declared[name] = (sha, size)
    return declared


def _check_entries(infos: list[zipfile.ZipInfo], path: Path) -> dict[str, zipfile.ZipInfo]:
    """Check every zip entry's name, encryption and compression method; return entries by name."""
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if not _is_member_name(name):
            _reject(
                path,
                f"entry {name!r} is not allowed: only flat .json/.txt members (like 'model.txt') may appear; "
                "nothing was loaded",
                _TAMPERED,
            )
        if name in by_name:
            _reject(path, f"entry {name!r} appears more than once; nothing was loaded", _TAMPERED)
        if info.flag_bits & _ENCRYPTED_FLAG:
            _reject(
                path,
                f"member {name!r} is encrypted, which riskscore never does; nothing was loaded",
                _TAMPERED,
            )
        if info.compress_type not in _ALLOWED_COMPRESSION:
            _reject(
                path,
                f"member {name!r} uses compression method {info.compress_type}, "
                "which riskscore never writes; nothing was loaded",
                _TAMPERED,
            )
        by_name[name] = info
    return by_name


def _check_sizes(
    infos: list[zipfile.ZipInfo], max_member_bytes: int, max_total_bytes: int, path: Path
) -> None:
    """Refuse oversized or over-compressed entries from their declared sizes, before decompressing."""
    larger = "nothing was loaded; if you trust this file, pass a larger {0} to read_artifact"
    total = 0
    for info in infos:
        if info.file_size > max_member_bytes:
            _reject(
                path,
                f"member {info.filename!r} declares {info.file_size} bytes, over the limit of "
                f"{max_member_bytes} bytes",
                larger.format("max_member_bytes"),
            )
        if _too_compressed(info):
            ratio = info.file_size / max(info.compress_size, 1)
            _reject(
                path,
                f"member {info.filename!r} expands {ratio:.0f}:1 ({info.compress_size} -> {info.file_size} "
                f"bytes), over the {MAX_COMPRESSION_RATIO}:1 limit (possible zip bomb); nothing was loaded",
                _TAMPERED,
            )
        total += info.file_size
    if total > max_total_bytes:
        _reject(
            path,
            f"members declare {total} bytes in total, over the limit of {max_total_bytes} bytes",
            larger.format("max_total_bytes"),
        )


def _verify_signature(
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    manifest_raw: bytes,
    path: Path,
    require: bool,
    keys: Mapping[str, bytes],
) -> None:
    """Check the HMAC over the manifest bytes, before any manifest field is trusted."""
    sig_infos = [i for i in infos if i.filename == _SIGNATURE_NAME]
    how = (
        f"sign it with `riskscore sign --model {path}` (key from {SIGNING_KEY_ENV} or {KEYRING_ENV}), or load it "
        "with require_signature=False if you trust its origin"
    )
    if not sig_infos:
        if require:
            _reject(
                path,
                "it is not signed, and a signature is required (require_signature=True); nothing was loaded",
                how,
            )
        return
    _check_entries(sig_infos, path)
    _check_sizes(sig_infos, 1 << 16, 1 << 16, path)
    try:
        sig = json.loads(_read_entry(zf, sig_infos[0], 1 << 16, path))
        alg, key_id, mac = sig["alg"], str(sig["key_id"]), str(sig["mac"])
    except (ValueError, KeyError, TypeError):
        _reject(path, "its signature.json is malformed; nothing was loaded", _TAMPERED)
    if alg != "HMAC-SHA256":
        _reject(
            path, f"its signature uses {alg!r}, which riskscore does not write; nothing was loaded", _TAMPERED
        )
    secret = keys.get(key_id) if key_id in keys else (next(iter(keys.values())) if len(keys) == 1 else None)
    if secret is None:
        if require:
            _reject(
                path,
                f"it is signed with key {key_id!r}, but no such key is available to verify it",
                f"set {SIGNING_KEY_ENV}, or add the key to the keyring named by {KEYRING_ENV}",
            )
        return
    # signing_keys already refuses short keys; checked again here because a short key that verifies proves
    # nothing, whoever passed it in
    _check_key(key_id, secret, f"used to verify {path}")
    if not hmac.compare_digest(_mac(secret, manifest_raw), mac):
        _reject(
            path,
            f"its signature does not match (key {key_id!r}): the file was altered or signed with "
            "another key; nothing was loaded",
            "do not use this file; get it again from its source",
        )


def _load(
    zf: zipfile.ZipFile,
    path: Path,
    max_member_bytes: int,
    max_total_bytes: int,
    require_signature: bool = False,
    keys: Mapping[str, bytes] | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    keys = {} if keys is None else keys
    infos = zf.infolist()
    # The manifest comes first, so that a file from a newer riskscore (which may allow other members) is
    # reported as such; only the manifest entry is read before every entry has been checked.
    manifest_infos = [info for info in infos if info.filename == _MANIFEST_NAME]
    if not manifest_infos:
        _reject(
            path,
            "it has no manifest.json, so it is not a riskscore model",
            "pass a model file written by riskscore",
        )
    _check_entries(manifest_infos, path)  # also refuses a duplicated manifest.json
    _check_sizes(manifest_infos, max_member_bytes, max_total_bytes, path)
    manifest_raw = _read_entry(zf, manifest_infos[0], max_member_bytes, path)
    _verify_signature(zf, infos, manifest_raw, path, require_signature, keys)
    manifest = _parse_manifest(manifest_raw, path)

    by_name = _check_entries(infos, path)
    declared = _declared_members(manifest, path)

    for name in sorted(declared):
        if name not in by_name:
            _reject(
                path,
                f"member {name!r} listed in manifest.json is missing from the file",
                "the file is damaged; re-copy or re-save the model",
            )
    for name in sorted(by_name):
        if name not in (_MANIFEST_NAME, _SIGNATURE_NAME) and name not in declared:
            _reject(
                path, f"unexpected member {name!r} not listed in manifest.json; nothing was loaded", _TAMPERED
            )
    _check_sizes(infos, max_member_bytes, max_total_bytes, path)

    members: dict[str, bytes] = {}
    for name in sorted(declared):
        expected_sha, expected_size = declared[name]
        data = _read_entry(zf, by_name[name], max_member_bytes, path)
        todo = "do not use it; re-copy or re-save the model"
        if len(data) != expected_size:
            _reject(path, f"member {name} was modified: size {len(data)} expected {expected_size}", todo)
        actual_sha = hashlib.sha256(data).hexdigest()
        if not hmac.compare_digest(actual_sha, expected_sha):
            _reject(path, f"member {name} was modified: sha256 {actual_sha} expected {expected_sha}", todo)
        members[name] = data
    return manifest, members


def _expected_digest(sha256: str | None) -> str | None:
    """Return the ``sha256`` argument in lowercase; ParameterError when it cannot be a SHA-256 digest."""
    if sha256 is None:
        return None
    digest = sha256.strip().lower() if isinstance(sha256, str) else None
    if digest is None or _SHA256_HEX.fullmatch(digest) is None:
        raise ParameterError(
            f"sha256 must be the model file's SHA-256 as 64 hexadecimal characters (as `sha256sum` prints "
            f"it); got {sha256!r}"
        )
    return digest


def _check_digest(fh: IO[bytes], path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        digest.update(chunk)
    actual = digest.hexdigest()
    if not hmac.compare_digest(actual, expected):
        _reject(
            path,
            f"its SHA-256 is {actual}, not the expected {expected}; nothing was loaded",
            "do not use this file: get it again from its source (if the model was rebuilt on purpose, "
            "publish and pass its new digest)",
        )


def read_artifact(
    path: str | os.PathLike[str],
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    require_signature: bool = False,
    key: bytes | str | Mapping[str, bytes | str] | None = None,
    sha256: str | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Load and verify a model file.

    Nothing is unpickled or executed: the file may only hold ``manifest.json`` and the ``.json``/``.txt``
    members the manifest lists, each with a matching SHA-256 and size. Declared sizes and compression
    ratios are checked before anything is decompressed, and decompression is bounded as well.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    max_member_bytes : int, default MAX_MEMBER_BYTES (512 MiB)
        Largest uncompressed size accepted for one member, manifest included.
    max_total_bytes : int, default MAX_TOTAL_BYTES (1 GiB)
        Largest uncompressed size accepted for all members together.
    require_signature : bool, default False
        Refuse a file that is unsigned, or whose signature cannot be verified with an available key.
        A signed file is always verified when a key is available.
    key : bytes, str or mapping, optional
        Signing key(s); default: :func:`signing_keys` (environment variables).
    sha256 : str, optional
        The SHA-256 of the whole file as 64 hexadecimal characters (what ``sha256sum`` prints), e.g. a
        published digest: compared before anything else is read. Unlike a signature it needs no secret,
        but it pins one exact file.

    Returns
    -------
    manifest : dict
        The parsed ``manifest.json``: the caller's fields plus ``format``, ``format_version``,
        ``created_by`` and ``members``.
    members : dict of str to bytes
        The member contents by name, in sorted order.

    Raises
    ------
    ArtifactError
        If the file is missing or unreadable, truncated or not a zip, has no valid manifest, is of another
        format or an unsupported format version, holds a disallowed, unlisted, missing, encrypted,
        oversized or over-compressed member, or a member whose size or SHA-256 does not match the manifest,
        or if the whole file's SHA-256 is not ``sha256``. The message says what is wrong, names the file and
        says what to do.
    ParameterError
        If ``sha256`` is not 64 hexadecimal characters.
    """
    source = Path(path)
    if not source.exists():
        raise ArtifactError(
            f"cannot load model {source}: the file does not exist; "
            "check the path, or train and save a model first"
        )
    if source.is_dir():
        _reject(source, "it is a folder, not a model file", "pass the path of a model file")
    expected = _expected_digest(sha256)
    try:
        # one open file for the digest and the zip, so that the bytes checked are the bytes loaded
        with open(source, "rb") as fh:
            if expected is not None:
                _check_digest(fh, source, expected)
                fh.seek(0)
            keys = signing_keys(key)
            with zipfile.ZipFile(fh) as zf:
                return _load(zf, source, max_member_bytes, max_total_bytes, require_signature, keys)
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, ValueError) as exc:
        _reject(
            source, f"file is truncated or not a riskscore model ({exc})", "re-copy or re-save the model file"
        )
    except OSError as exc:
        _reject(source, f"the file cannot be read ({exc})", "check that it exists and is readable")


def sign_artifact(
    path: str | os.PathLike[str], *, key: bytes | str | None = None, key_id: str | None = None
) -> Path:
    """Sign an existing model file in place (atomically), after verifying it.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    key : bytes or str, optional
        The secret, at least :data:`MIN_KEY_BYTES` (16) bytes; default: the first key of
        :func:`signing_keys` (``RISKSCORE_SIGNING_KEY``, then ``RISKSCORE_KEYRING``).
    key_id : str, optional
        Which key of the environment's keyring to use (and the id stored in the signature).

    Returns
    -------
    pathlib.Path
        The path signed.

    Raises
    ------
    ArtifactError
        If no key is available, ``key_id`` is unknown, a key is under 16 bytes, or the file does not
        verify (see :func:`read_artifact`).
    """
    keys = signing_keys(key)
    if not keys:
        raise ArtifactError(f"no signing key: pass key=..., or set {SIGNING_KEY_ENV} or {KEYRING_ENV}")
    kid = key_id if key_id is not None else next(iter(keys))
    if kid not in keys:
        raise ArtifactError(f"key id {kid!r} is not among the available keys {sorted(keys)}")
    manifest, members = read_artifact(path)
    caller = {k: v for k, v in manifest.items() if k not in _RESERVED_KEYS}
    return write_artifact(path, manifest=caller, members=members, signing_key=keys[kid], key_id=kid)


def artifact_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the manifest of a model file, after verifying the whole file.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    dict
        The parsed ``manifest.json`` (see :func:`read_artifact`).

    Raises
    ------
    ArtifactError
        For any problem :func:`read_artifact` reports.
    """
    manifest, _ = read_artifact(path)
    return manifest
