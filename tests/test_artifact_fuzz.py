"""Edited model texts and manifests: loading raises ArtifactError or gives a model that works, never a crash.

An unsigned model file can be rewritten with consistent member hashes by anyone. LightGBM's C++ parser
trusts its text: before riskscore/_lgbtext.py, a truncated ``model.txt`` aborted the interpreter
("terminate called without an active exception"), a wrong ``tree_sizes`` segfaulted it,
``num_tree_per_iteration=0`` killed it with SIGFPE and a cycle in ``right_child`` hung prediction.

Loads of edited files run in a child process, so that a regression fails a test instead of killing the
test runner: the child prints one line per file, and a crash shows as a missing line and a return code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from riskscore import ArtifactError
from riskscore._lgbtext import MAX_DEPTH, check_model_text
from riskscore.model import ChannelModel
from riskscore.synthetic import generate_shipments
from riskscore.training import train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [
    ROOT / "models" / "shipment.rsk",
    ROOT / "models" / "passenger.rsk",
    ROOT / "tests/golden/shipment_v1.rsk",
]
CHILD_TIMEOUT = 300  # seconds for a whole batch; a hang (a cycle in a tree) fails the test instead

# The child loads each file named on its command line and prints "<index> <outcome>": "ok" when the model
# loads and its boosters predict (plain, TreeSHAP, the one-row fast path) and, for edited manifests, when
# predict() works end to end; "ArtifactError" when loading refuses it; anything else is a failure.
CHILD = r"""
import os, sys
import pandas as pd
import riskscore
from riskscore import ArtifactError

out = os.fdopen(os.dup(1), "w", buffering=1)  # results only: LightGBM's own messages go to stderr
os.dup2(2, 1)
records = pd.read_parquet(sys.argv[2])
X = riskscore.load(sys.argv[1]).features.transform(records)
for i, arg in enumerate(sys.argv[3:]):
    path, full = arg[:-2], arg.endswith(":m")
    try:
        model = riskscore.load(path)
    except ArtifactError:
        print(i, "ArtifactError", file=out)
        continue
    except BaseException as exc:
        print(i, "load raised", type(exc).__name__, str(exc)[:300].replace("\n", " "), file=out)
        continue
    try:
        for est in (model.estimator, model.severity):
            if est is not None:
                est.booster_.predict(X, num_iteration=est.best_iteration_)
                est.booster_.predict(X, num_iteration=est.best_iteration_, pred_contrib=True)
        model._one_record().probabilities(X[0].tolist())
        if full:
            model.predict(records)
    except BaseException as exc:
        print(i, "predict raised", type(exc).__name__, str(exc)[:300].replace("\n", " "), file=out)
        continue
    print(i, "ok", file=out)
"""


# --------------------------------------------------------------------------------------------------------
# A small model with both heads, and ways to rewrite it consistently
# --------------------------------------------------------------------------------------------------------


class Small:
    """A small model file and its zip entries, with a short repr (Hypothesis prints its arguments)."""

    def __init__(self, path: Path, records: Path) -> None:
        self.path = path
        self.records = records  # a few records to score, as parquet
        with zipfile.ZipFile(path) as zf:
            self.entries = {name: zf.read(name) for name in zf.namelist()}

    def __repr__(self) -> str:
        return f"Small({self.path.name})"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Small:
    """A 6-round model with a severity head (truth labels, so that 20,000 rows give enough red)."""
    data = generate_shipments(20_000, seed=3)
    result = train(
        data,
        kind="shipment",
        label="truth",
        allow_truth=True,
        estimator=ChannelModel(n_estimators=6, num_threads=1),
        num_threads=1,
    )
    folder = tmp_path_factory.mktemp("small")
    data.tail(4).to_parquet(folder / "records.parquet", index=False)
    small = Small(result.model.save(folder / "small.rsk"), folder / "records.parquet")
    assert {"model.txt", "severity.txt"} <= set(small.entries)
    return small


def _canonical(manifest: dict) -> bytes:
    return (
        json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False).encode() + b"\n"
    )


def _rewrite(path: Path, entries: dict[str, bytes], changes: dict[str, bytes]) -> Path:
    """Write `entries` with `changes`, the manifest's hashes and sizes updated (as anyone can do)."""
    out = {**entries, **changes}
    manifest = json.loads(out["manifest.json"])
    for name in changes:
        if name != "manifest.json":
            manifest["members"][name] = {
                "sha256": hashlib.sha256(changes[name]).hexdigest(),
                "size": len(changes[name]),
            }
    out["manifest.json"] = _canonical(manifest)
    # stored, not deflated: a batch writes hundreds of files holding a 1.4 MB features.json
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(out):
            zf.writestr(name, out[name])
    return path


def _resized(text: bytes) -> bytes:
    """`text` with tree_sizes recomputed from its 'Tree=' blocks, as if LightGBM had written the edit.

    Without this, almost any edit only moves the trees away from where tree_sizes says they are; with it,
    the edit reaches the checks of the tree itself. Left unchanged when the text has no recognisable trees.
    """
    first, end = text.find(b"\nTree="), text.find(b"end of trees")
    sizes_at = text.find(b"\ntree_sizes=")
    if min(first, end, sizes_at) < 0 or not sizes_at < first < end:
        return text
    blocks = [b for b in re.split(rb"(?m)^(?=Tree=)", text[first + 1 : end]) if b]
    line_end = text.index(b"\n", sizes_at + 1)
    sizes = b" ".join(str(len(b)).encode() for b in blocks)
    return text[: sizes_at + 1] + b"tree_sizes=" + sizes + text[line_end:]


def _edit_field(text: bytes, tree: int, field: str, edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """Apply `edit` to the tokens of `field` in tree number `tree`, then recompute tree_sizes."""
    start = text.index(b"\nTree=%d\n" % tree)
    at = text.index(b"\n" + field.encode() + b"=", start) + 1
    line_end = text.index(b"\n", at)
    tokens = text[at + len(field) + 1 : line_end].split(b" ")
    line = field.encode() + b"=" + b" ".join(edit(tokens))
    return _resized(text[:at] + line + text[line_end:])


def _set(index: int, value: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def edit(tokens: list[bytes]) -> list[bytes]:
        tokens = list(tokens)
        tokens[index] = value
        return tokens

    return edit


def _run_child(
    small: Small, files: list[tuple[Path, bool]]
) -> tuple[subprocess.CompletedProcess[str], dict[int, str]]:
    """Load `files` (path, edited manifest?) in one child process; return it and its outcome per file."""
    env = {k: v for k, v in os.environ.items() if k not in ("RISKSCORE_SIGNING_KEY", "RISKSCORE_KEYRING")}
    env["OMP_NUM_THREADS"] = "1"
    args = [f"{path}:{'m' if full else 't'}" for path, full in files]
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(small.path), str(small.records), *args],
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        done = (out.decode(errors="replace") if isinstance(out, bytes) else out).count("\n")
        pytest.fail(
            f"loading hung (more than {CHILD_TIMEOUT} s) on file {done}: {files[min(done, len(files) - 1)][0]}"
        )
    outcomes = {}
    for line in child.stdout.splitlines():
        index, _, outcome = line.partition(" ")
        outcomes[int(index)] = outcome
    return child, outcomes


def _assert_no_crash(
    child: subprocess.CompletedProcess[str], outcomes: dict[int, str], names: list[str]
) -> None:
    if child.returncode != 0 or len(outcomes) != len(names):
        at = len(outcomes)
        pytest.fail(
            f"the loading process died (return code {child.returncode}) on {names[at] if at < len(names) else '?'} "
            f"after {at} files; stderr ends with:\n{child.stderr[-1500:]}"
        )
    bad = {names[i]: o for i, o in outcomes.items() if o not in ("ok", "ArtifactError")}
    assert not bad, f"loading must succeed or raise ArtifactError: {bad}"


# --------------------------------------------------------------------------------------------------------
# The checker, in process (pure Python: it cannot crash)
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_and_golden_model_texts_pass(path):
    with zipfile.ZipFile(path) as zf:
        names = [n for n in ("model.txt", "severity.txt") if n in zf.namelist()]
        for name in names:
            check_model_text(zf.read(name).decode("ascii"), source=f"{path} ({name})")
    assert "model.txt" in names


def test_an_edit_lightgbm_itself_could_write_passes(small):
    # a changed leaf value and threshold (consistent sizes) are valid trees: the check is not a signature
    text = _edit_field(small.entries["model.txt"], 1, "leaf_value", _set(0, b"0.125"))
    text = _edit_field(text, 1, "threshold", _set(0, b"1.5e-07"))
    check_model_text(text.decode(), source="edited (model.txt)")


@pytest.mark.parametrize("value", [b"inf", b"-inf"])
def test_an_infinite_threshold_lightgbm_writes_passes_but_not_elsewhere(small, value):
    # LightGBM writes "inf" for a numerical split it could not place (seen in a shipped model): valid
    text = _edit_field(small.entries["model.txt"], 1, "threshold", _set(0, value))
    check_model_text(text.decode(), source="edited (model.txt)")
    booster = lgb.Booster(model_str=text.decode())  # and LightGBM reads it back
    assert booster.num_trees() > 0
    bad = _edit_field(small.entries["model.txt"], 1, "leaf_value", _set(0, value))
    with pytest.raises(ArtifactError, match="leaf_value"):
        check_model_text(bad.decode(), source="edited (model.txt)")


TREE_DEFECTS = {
    # what each edit does to LightGBM today: abort, segfault, SIGFPE, hang or silent garbage
    "child-index-out-of-range": (
        lambda t: _edit_field(t, 0, "left_child", _set(0, b"9999")),
        r"tree 0: field 'left_child' holds 9999, outside \[-\d+, \d+\]",
    ),
    "leaf-index-out-of-range": (
        lambda t: _edit_field(t, 0, "right_child", _set(1, b"-99")),
        r"tree 0: field 'right_child' holds -99",
    ),
    "cycle-to-the-root": (
        lambda t: _edit_field(t, 2, "right_child", _set(0, b"0")),
        r"tree 2: field 'right_child' of node 0 leads to node 0, which is reached twice",
    ),
    "shared-leaf": (
        lambda t: _edit_field(
            t, 0, "left_child", lambda tok: [tok[0], *[b"-1" if x.startswith(b"-") else x for x in tok[1:]]]
        ),
        r"tree 0: field '(left|right)_child' of node \d+ leads to leaf 0, which is reached twice",
    ),
    "leaf-value-nan": (
        lambda t: _edit_field(t, 3, "leaf_value", _set(2, b"nan")),
        r"tree 3: field 'leaf_value' must hold finite numbers",
    ),
    "leaf-value-overflow": (
        lambda t: _edit_field(t, 3, "leaf_value", _set(2, b"1e+999")),
        r"tree 3: field 'leaf_value' holds a number too large for a double",
    ),
    "leaf-value-missing": (
        lambda t: _edit_field(t, 1, "leaf_value", lambda tok: tok[:-1]),
        r"tree 1: field 'leaf_value' has \d+ values, expected \d+",
    ),
    "num-leaves-zero": (
        lambda t: _edit_field(t, 0, "num_leaves", _set(0, b"0")),
        r"tree 0: field 'num_leaves' holds 0, outside \[1, 131072\]",
    ),
    "num-leaves-huge": (
        lambda t: _edit_field(t, 0, "num_leaves", _set(0, b"1000000")),
        r"tree 0: field 'num_leaves' holds 1000000",
    ),
    "split-feature-out-of-range": (
        lambda t: _edit_field(t, 0, "split_feature", _set(0, b"100000")),
        r"tree 0: field 'split_feature' holds 100000, outside \[0, \d+\]",
    ),
    "num-cat-beyond-boundaries": (
        lambda t: _edit_field(t, 0, "num_cat", _set(0, b"5")),
        r"tree 0: field 'cat_boundaries' has \d+ values, expected 6",
    ),
    "cat-boundaries-past-thresholds": (
        lambda t: _edit_field(t, 0, "cat_boundaries", lambda tok: [b"0"] * (len(tok) - 1) + [b"100000"]),
        r"tree 0: field 'cat_threshold' has \d+ values, expected 100000",
    ),
    "categorical-split-without-category-set": (
        lambda t: _edit_field(t, 0, "decision_type", lambda tok: [b"1"] * len(tok)),
        r"tree 0: field 'threshold' of categorical node \d+ is .*, not a category set index",
    ),
    "decision-type-out-of-range": (
        lambda t: _edit_field(t, 0, "decision_type", _set(0, b"12")),
        r"tree 0: field 'decision_type' holds 12, outside \[0, 11\]",
    ),
    "unknown-tree-field": (
        lambda t: _resized(t.replace(b"\nshrinkage=", b"\nbogus=1\nshrinkage=", 1)),
        r"tree 0: unknown field 'bogus'",
    ),
    "linear-tree": (
        lambda t: _edit_field(t, 0, "is_linear", _set(0, b"1")),
        r"tree 0: it is a linear tree",
    ),
    "tree-sizes-past-the-end": (
        lambda t: t.replace(b"tree_sizes=", b"tree_sizes=99999999 ", 1),
        r"tree 0: tree_sizes puts it at characters \d+\.\.\d+, past the end of the text",
    ),
    "tree-sizes-shifted": (
        lambda t: re.sub(
            rb"tree_sizes=(\d+)", lambda m: b"tree_sizes=%d" % (int(m.group(1)) + 7), t, count=1
        ),
        r"tree 0: its block does not end with a blank line",
    ),
    "tree-sizes-merged": (
        lambda t: re.sub(
            rb"tree_sizes=(\d+) (\d+)", lambda m: b"tree_sizes=%d" % (int(m[1]) + int(m[2])), t, count=1
        ),
        r"tree 0: its block goes on after the blank line that ends a tree: tree_sizes does not match the trees",
    ),
    "tree-block-without-blank-line": (
        lambda t: re.sub(
            rb"tree_sizes=(\d+)", lambda m: b"tree_sizes=%d" % (int(m.group(1)) - 2), t, count=1
        ),
        r"tree 0: its block does not end with a blank line",
    ),
    "no-tree-per-iteration": (
        lambda t: t.replace(b"num_tree_per_iteration=1", b"num_tree_per_iteration=0", 1),
        r"header: field 'num_tree_per_iteration' holds 0, outside \[1, \d+\]",
    ),
    "feature-count-mismatch": (
        lambda t: re.sub(
            rb"max_feature_idx=(\d+)", lambda m: b"max_feature_idx=%d" % (int(m[1]) + 8), t, count=1
        ),
        r"header: field 'feature_names' has \d+ entries, expected max_feature_idx \+ 1 = \d+",
    ),
    "foreign-objective": (
        lambda t: t.replace(b"objective=binary sigmoid:1", b"objective=regression", 1),
        r"header: objective 'regression' is not one riskscore trains",
    ),
    "truncated-in-a-tree": (
        lambda t: t[: t.index(b"Tree=2") + 40],
        r"tree 2: tree_sizes puts it at characters \d+\.\.\d+, past the end of the text",
    ),
    "truncated-before-end-of-trees": (
        lambda t: t[: t.index(b"end of trees")],
        r"after the trees: expected 'end of trees'",
    ),
    "nul-byte": (
        lambda t: t.replace(b"leaf_value=", b"leaf_value=\x00", 1),
        r"model text: character '\\x00' at offset \d+",
    ),
    "pandas-categorical": (
        lambda t: t.replace(b"pandas_categorical:null", b"pandas_categorical:" + b"[" * 5000 + b"]" * 5000),
        r"after the trees: the text must end with the line 'pandas_categorical:null'",
    ),
}


@pytest.mark.parametrize("defect", sorted(TREE_DEFECTS))
def test_defective_tree_text_is_refused_naming_tree_and_field(small, defect):
    edit, message = TREE_DEFECTS[defect]
    text = edit(small.entries["model.txt"])
    assert text != small.entries["model.txt"]
    with pytest.raises(ArtifactError, match=message) as info:
        check_model_text(text.decode("latin-1"), source="m.rsk (model.txt)")
    assert str(info.value).startswith("cannot load model m.rsk (model.txt): ")
    assert "do not use this file" in str(info.value)


def _chain(text: bytes, n_leaves: int) -> bytes:
    """`text` with tree 0 replaced by a valid chain of `n_leaves` leaves (each split sends one leaf left)."""
    nodes = range(n_leaves - 1)
    fields = {
        "num_leaves": [n_leaves],
        "num_cat": [0],
        "split_feature": [9] * (n_leaves - 1),
        "split_gain": [1] * (n_leaves - 1),
        "threshold": [0.5] * (n_leaves - 1),
        "decision_type": [2] * (n_leaves - 1),
        "left_child": [~i for i in nodes],
        "right_child": [*range(1, n_leaves - 1), ~(n_leaves - 1)],
        "leaf_value": [0.1] * n_leaves,
        "leaf_weight": [1] * n_leaves,
        "leaf_count": [1] * n_leaves,
        "internal_value": [0] * (n_leaves - 1),
        "internal_weight": [1] * (n_leaves - 1),
        "internal_count": [n_leaves - i for i in nodes],
        "is_linear": [0],
        "shrinkage": [1],
    }
    block = (
        b"Tree=0\n" + b"".join(f"{k}={' '.join(map(str, v))}\n".encode() for k, v in fields.items()) + b"\n\n"
    )
    return _resized(text[: text.index(b"Tree=0\n")] + block + text[text.index(b"Tree=1\n") :])


def test_tree_deeper_than_max_depth_is_refused(small):
    # TreeSHAP allocates (depth + 1)(depth + 2) / 2 path elements per tree: a deep hand-made chain would
    # exhaust memory inside an OpenMP loop, which aborts the process
    check_model_text(_chain(small.entries["model.txt"], MAX_DEPTH + 1).decode(), source="m.rsk (model.txt)")
    with pytest.raises(ArtifactError, match=rf"tree 0: it is deeper than {MAX_DEPTH} levels"):
        check_model_text(
            _chain(small.entries["model.txt"], MAX_DEPTH + 2).decode(), source="m.rsk (model.txt)"
        )


# --------------------------------------------------------------------------------------------------------
# The same defects end to end, in a child process (they abort, segfault or hang the process before the fix)
# --------------------------------------------------------------------------------------------------------


def test_defective_model_texts_raise_artifact_error_instead_of_killing_the_process(small, tmp_path):
    files, names = [], []
    for defect, (edit, _) in sorted(TREE_DEFECTS.items()):
        for member in ("model.txt", "severity.txt"):
            try:
                data = edit(small.entries[member])
            except (ValueError, IndexError):  # the edit needs what only model.txt has (e.g. a 31-leaf tree)
                continue
            if data == small.entries[member]:
                continue
            files.append(
                (_rewrite(tmp_path / f"{defect}-{member}.rsk", small.entries, {member: data}), False)
            )
            names.append(f"{defect} in {member}")
    assert len(files) >= 40
    child, outcomes = _run_child(small, files)
    _assert_no_crash(child, outcomes, names)
    assert all(outcome == "ArtifactError" for outcome in outcomes.values()), outcomes


# --------------------------------------------------------------------------------------------------------
# Fuzz: random edits of model.txt, severity.txt and the manifest, loaded in a child process
# --------------------------------------------------------------------------------------------------------

NUMBERS = [b"0", b"1", b"-1", b"2", b"-2", b"5", b"30", b"-31", b"52", b"53", b"255", b"1000000"]
NUMBERS += [b"2147483647", b"2147483648", b"-2147483649", b"nan", b"inf", b"-inf", b"1e+999", b"1e-999"]
NUMBERS += [b"0.5", b"-0", b"", b"x", b"9" * 30, b"1 2", b"1e5", b"1.0000000180025095e-35"]
BYTES = [0, 9, 10, 13, 32, 45, 46, 48, 57, 61, 101, 128, 255]
TEXT_EDITS = ["truncate", "flip", "byte", "delete", "duplicate", "swap", "number", "drop", "repeat"]
TEXT_EDITS += ["num_leaves", "tree_sizes"]
ARRAY_LINE = re.compile(rb"^[a-z_]+=[-0-9.e+ ]*$")
JSON_LEAVES = [None, True, False, 0, 1, -1, 2**70, -(2**70), 0.5, 1.5, -0.5, 5, 1e300, "", "abc", "aeo"]
JSON_LEAVES += ["==", ">=", "in", "red", "exempt", "balanced", "declaration_id", "truth_channel"]


def _mutate_text(rng: random.Random, text: bytes) -> tuple[bytes, str]:
    """One random edit of a LightGBM text; returns the new text and what was done."""
    lines = text.split(b"\n")
    kind = rng.choice(TEXT_EDITS)
    if kind == "truncate":
        at = rng.randrange(len(text) + 1)
        return text[:at], f"truncate at {at}"
    if kind in ("flip", "byte"):
        at = rng.randrange(len(text))
        new = text[at] ^ (1 << rng.randrange(8)) if kind == "flip" else rng.choice(BYTES)
        return text[:at] + bytes([new]) + text[at + 1 :], f"{kind} at byte {at} -> {new}"
    if kind in ("delete", "duplicate", "swap"):
        j, k = rng.randrange(len(lines)), rng.randrange(len(lines))
        out = list(lines)
        if kind == "delete":
            del out[j]
        elif kind == "duplicate":
            out.insert(j, out[j])
        else:
            out[j], out[k] = out[k], out[j]
        return b"\n".join(out), f"{kind} line {j} ({lines[j][:30]!r}){f' with {k}' if kind == 'swap' else ''}"
    prefix = {"num_leaves": b"num_leaves=", "tree_sizes": b"tree_sizes="}.get(kind, b"")
    candidates = [i for i, line in enumerate(lines) if ARRAY_LINE.match(line) and line.startswith(prefix)]
    if not candidates:
        return text, "no line to edit"
    j = rng.choice(candidates)
    key, _, value = lines[j].partition(b"=")
    tokens = value.split(b" ")
    t = rng.randrange(len(tokens))
    if kind == "drop":
        tokens = tokens[:t] + tokens[t + 1 :]
    elif kind == "repeat":
        tokens = tokens[: t + 1] + tokens[t:]
    elif kind == "tree_sizes" and tokens[t].isdigit() and rng.random() < 0.5:
        tokens[t] = str(int(tokens[t]) + rng.randint(-30, 30)).encode()
    else:
        tokens[t] = rng.choice(NUMBERS) if rng.random() < 0.7 else str(rng.randint(-200, 200)).encode()
    out = list(lines)
    out[j] = key + b"=" + b" ".join(tokens)
    return b"\n".join(out), f"{kind} line {j} ({key.decode()}) token {t} -> {out[j][:60]!r}"


def _random_json(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 2 and roll < 0.25:
        return {
            rng.choice(["a", "column", "op", "value"]): _random_json(rng, depth + 1)
            for _ in range(rng.randrange(3))
        }
    return rng.choice(JSON_LEAVES) if roll < 0.8 else rng.uniform(-2, 2)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (dict keys and list indexes)."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list) and len(value) <= 8:  # not into the 1025 calibration knots one by one
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate_manifest(rng: random.Random, raw: bytes) -> tuple[bytes, str]:
    """One random edit of a manifest field the loader reads (the format fields and the spec excluded)."""
    manifest = json.loads(raw)
    tops = ["kind", "policy", "estimator", "severity", "severity_prior", "calibration", "info"]
    path = rng.choice([p for top in tops for p in _paths(manifest[top], (top,))])
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    where = ".".join(map(str, path))
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[path[-1]]
        return _canonical(manifest), f"delete {where}"
    if path[0] == "calibration" and len(path) == 2 and rng.random() < 0.5:  # one knot of the 1025
        knot = rng.randrange(len(parent[path[-1]]))
        parent[path[-1]][knot] = rng.choice([-0.5, 0.0, 0.3, 1.0, 5.0, 1e300])
        return _canonical(manifest), f"{where}[{knot}] = {parent[path[-1]][knot]}"
    new = _random_json(rng)
    parent[path[-1]] = new
    return _canonical(manifest), f"{where} = {json.dumps(new)[:60]}"


FUZZ_BATCH = 60


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    # no shrinking: each failing edit is described in full in the message, and each run costs a process
    phases=[Phase.explicit, Phase.generate],
)
@given(seed=st.integers(0, 2**64 - 1))
def test_fuzzed_model_files_load_or_raise_artifact_error(small, tmp_path_factory, seed):
    # Hypothesis picks (and reports) the seed of each batch; the edits themselves come from a seeded
    # generator, so that even its first, "simplest" example is a batch of varied edits
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("fuzz")
    files, names = [], []
    for i in range(FUZZ_BATCH):
        member = rng.choice(["model.txt", "model.txt", "severity.txt", "manifest.json"])
        if member == "manifest.json":
            content, what = _mutate_manifest(rng, small.entries[member])
        else:
            content, steps = small.entries[member], []
            for _ in range(rng.randint(1, 3)):
                content, step = _mutate_text(rng, content)
                steps.append(step)
            if rng.random() < 0.5:
                content = _resized(content)
                steps.append("tree_sizes recomputed")
            what = "; ".join(steps)
        files.append(
            (_rewrite(folder / f"{i}.rsk", small.entries, {member: content}), member == "manifest.json")
        )
        names.append(f"{member}: {what}")
    child, outcomes = _run_child(small, files)
    _assert_no_crash(child, outcomes, names)
