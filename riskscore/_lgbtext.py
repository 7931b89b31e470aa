r"""Check a LightGBM text model in pure Python before LightGBM's C++ parser sees it.

LightGBM's loader (``GBDT::LoadModelFromString`` and ``Tree::Tree(const char*, size_t*)``) trusts its
input: it jumps to byte offsets taken from ``tree_sizes`` without bounds checks, reads array fields without
checking their length, aborts the whole process when a tree fails to parse inside its OpenMP loop, and its
predictors follow ``left_child``/``right_child`` and index ``leaf_value``, ``cat_boundaries`` and the input
row without checks. A model text whose member hashes were recomputed after an edit therefore kills the
interpreter (abort, segfault, SIGFPE) or hangs it instead of raising.

:func:`check_model_text` accepts only text that LightGBM 4 writes (``version=v4``) for the models
riskscore trains (binary or multiclass gradient boosting on a numeric matrix: no linear trees, no pandas
categoricals), and checks everything the C++ code reads or later trusts:

- the text is printable ASCII and newlines only (no NUL to cut the C string short, no ``\r``);
- the header keys the loader needs, with well-formed values: ``num_class``, ``num_tree_per_iteration``
  (equal to it; the loader divides by it), ``label_index``, ``max_feature_idx`` (with as many
  ``feature_names`` and ``feature_infos``), ``objective``, and ``tree_sizes`` (a multiple of
  ``num_tree_per_iteration`` trees);
- each tree's block, found where ``tree_sizes`` says, starts with its ``Tree=<i>`` line and ends with a
  blank line inside the block, so that the parser never reads outside it;
- in each tree: ``num_leaves`` in [1, 131072], ``num_cat``, and every array with exactly the length the
  parser reads, as integers in range or finite numbers; ``split_feature`` below ``max_feature_idx + 1``;
  ``decision_type`` a valid mask; ``left_child``/``right_child`` forming one tree from node 0 (each internal
  node and each leaf reached exactly once, no cycle, depth at most :data:`MAX_DEPTH`); categorical splits
  pointing at an existing ``cat_boundaries`` entry, whose values bound ``cat_threshold``;
- the ``end of trees`` marker right after the last tree, a well-formed ``parameters:`` section, and the
  final ``pandas_categorical:null`` line that the Python package parses as JSON.

The check runs in linear time (a few tens of milliseconds for the shipped models' hundreds of trees).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import NoReturn

from riskscore.exceptions import ArtifactError

__all__ = ["MAX_DEPTH", "MAX_LEAVES", "check_model_text"]

#: Largest ``num_leaves`` accepted: LightGBM's own upper bound on the parameter.
MAX_LEAVES = 131072

#: Deepest tree accepted. LightGBM's TreeSHAP allocates a path of (depth + 1)(depth + 2) / 2 elements per
#: tree, so a hand-made chain of a hundred thousand nodes would exhaust memory inside an OpenMP loop
#: (which aborts the process); trained trees are far shallower (at most ``num_leaves - 1`` = 30 by default).
MAX_DEPTH = 1000

_FIX = (
    "the LightGBM model text was damaged or tampered with (even though the member hashes match: an "
    "unsigned file can be rewritten consistently); do not use this file: get it again from its source, or "
    "retrain and save the model"
)
_INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
# Characters LightGBM writes: printable ASCII and "\n". A NUL would end the C string early (and
# tree_sizes would point past it), "\r" and other controls change where the parser cuts lines.
_BAD_CHAR = re.compile(r"[^\n\x20-\x7e]")
_KEY = re.compile(r"[a-z_]+")
_INT = r"-?[0-9]{1,10}"
# What LightGBM writes ("{:.17g}": plain decimals, or one digit, a fraction and a signed exponent of 2 or 3
# digits), all of which its fast_double_parser reads back identically; never nan or inf (it cannot parse
# them, and a trained tree holds none). Plain decimals of at most 308 digits are finite doubles, so only
# a positive exponent of three digits can overflow (see _Checker.floats).
_FLOAT = r"-?(?:[0-9]{1,308}(?:\.[0-9]{1,400})?|[0-9](?:\.[0-9]{1,400})?e[+-][0-9]{2,3})"
_BIG_EXPONENT = re.compile(r"e\+[0-9]{3}")
_INTS = re.compile(rf"(?:{_INT}(?: {_INT})*)?")
_FLOATS = re.compile(rf"(?:{_FLOAT}(?: {_FLOAT})*)?")
# A numerical split LightGBM could not place writes an infinite threshold ("inf", "-inf"): every value goes
# one way. Its loader reads them (Common::Atof); only thresholds may hold them.
_THRESHOLD = rf"(?:{_FLOAT}|-?inf)"
_THRESHOLDS = re.compile(rf"(?:{_THRESHOLD}(?: {_THRESHOLD})*)?")
_TOKENS = re.compile(r"(?:[!-~]+(?: [!-~]+)*)?")  # non-empty tokens separated by single spaces
_OBJECTIVE = re.compile(rf"(?P<name>binary|multiclass|multiclassova)((?: (?:sigmoid|num_class):{_FLOAT})*)")
_PARAMETER = re.compile(r"\[[a-z0-9_]+: [^\[\]\"\\]*\]")
_TREE_KEYS = frozenset(
    {
        "num_leaves",
        "num_cat",
        "split_feature",
        "split_gain",
        "threshold",
        "decision_type",
        "left_child",
        "right_child",
        "leaf_value",
        "leaf_weight",
        "leaf_count",
        "internal_value",
        "internal_weight",
        "internal_count",
        "cat_boundaries",
        "cat_threshold",
        "is_linear",
        "shrinkage",
    }
)
_TREE_REQUIRED = ("num_leaves", "num_cat", "leaf_value")
_SPLIT_REQUIRED = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
# decision_type bits: 1 categorical, 2 default-left, (d >> 2) & 3 the missing type (0 none, 1 zero, 2 NaN)
_MAX_DECISION_TYPE = 0b1011
_CATEGORICAL = 1
_PANDAS_LINE = "pandas_categorical:null"


class _Checker:
    """Holds the source name so that every failure names the file, the place and the fix."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ArtifactError(f"cannot load model {self.source}: {where}: {problem}; {_FIX}")

    def ints(self, where: str, field: str, value: str, count: int | None, lo: int, hi: int) -> list[int]:
        """Parse a space-separated integer array of exactly `count` values in [lo, hi]."""
        if _INTS.fullmatch(value) is None:
            self.fail(
                where, f"field {field!r} must hold integers separated by single spaces; got {value[:60]!r}"
            )
        values = list(map(int, value.split(" "))) if value else []
        if count is not None and len(values) != count:
            self.fail(where, f"field {field!r} has {len(values)} values, expected {count}")
        if values and (min(values) < lo or max(values) > hi):
            bad = next(v for v in values if not lo <= v <= hi)
            self.fail(where, f"field {field!r} holds {bad}, outside [{lo}, {hi}]")
        return values

    def floats(
        self, where: str, field: str, value: str, count: int, *, keep: bool = False, infinite: bool = False
    ) -> list[float]:
        """Check a space-separated array of exactly `count` finite numbers (or +-inf where `infinite`)."""
        if (_THRESHOLDS if infinite else _FLOATS).fullmatch(value) is None:
            what = "numbers (finite, or inf / -inf)" if infinite else "finite numbers"
            self.fail(
                where,
                f"field {field!r} must hold {what} separated by single spaces; got {value[:60]!r}",
            )
        found = value.count(" ") + 1 if value else 0
        if found != count:
            self.fail(where, f"field {field!r} has {found} values, expected {count}")
        if not keep and _BIG_EXPONENT.search(value) is None:  # nothing can overflow to infinity (see _FLOAT)
            return []
        values = list(map(float, value.split(" "))) if value else []
        written = value.split(" ") if value else []
        if any(not math.isfinite(v) and "inf" not in w for v, w in zip(values, written, strict=True)):
            self.fail(where, f"field {field!r} holds a number too large for a double")
        return values

    def one_int(self, where: str, field: str, value: str, lo: int, hi: int) -> int:
        values = self.ints(where, field, value, 1, lo, hi)
        return values[0]


def check_model_text(text: str, *, source: str) -> None:
    r"""Check that a LightGBM text model is safe to hand to LightGBM's C++ loader and predictors.

    Parameters
    ----------
    text : str
        The model text (``Booster.model_to_string()``), as stored in a model file's ``model.txt`` or
        ``severity.txt``.
    source : str
        What to call the text in error messages, e.g. ``"models/shipment.rsk (model.txt)"``.

    Raises
    ------
    ArtifactError
        If anything LightGBM's parser reads without checking, or its predictors later trust, is missing,
        malformed or inconsistent; the message names the source, the tree and field, and what to do.

    Examples
    --------
    >>> check_model_text("tree\nversion=v4\n", source="demo (model.txt)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riskscore.exceptions.ArtifactError: cannot load model demo (model.txt): model text: it holds no tree ...
    """
    ck = _Checker(source)
    if not isinstance(text, str):
        ck.fail("model text", f"expected text, got {type(text).__name__}")
    # isascii/isprintable run in C; the regex only looks for the culprit to name it
    clean = text.isascii() and text.replace("\n", "").isprintable()
    bad = None if clean else _BAD_CHAR.search(text)
    if bad is not None:
        ck.fail(
            "model text",
            f"character {bad.group()!r} at offset {bad.start()} (LightGBM writes printable ASCII and newlines only)",
        )
    first_tree = text.find("\nTree=")
    if first_tree < 0:
        ck.fail("model text", "it holds no tree (no 'Tree=' line)")
    header = _check_header(ck, text[:first_tree])
    start = first_tree + 1  # LightGBM's tree_sizes offsets count from the first "Tree=" line
    for index, size in enumerate(header.tree_sizes):
        end = start + size
        if end > len(text):
            ck.fail(
                f"tree {index}",
                f"tree_sizes puts it at characters {start}..{end}, past the end of the text ({len(text)}): "
                "the text is truncated or tree_sizes was altered",
            )
        _check_tree(ck, text[start:end], index, header.max_feature_idx)
        start = end
    _check_tail(ck, text[start:])


class _Header:
    __slots__ = ("max_feature_idx", "tree_sizes")

    def __init__(self, max_feature_idx: int, tree_sizes: list[int]) -> None:
        self.max_feature_idx = max_feature_idx
        self.tree_sizes = tree_sizes


def _check_header(ck: _Checker, header: str) -> _Header:
    where = "header"
    lines = header.split("\n")
    if lines[0] != "tree":
        ck.fail(where, f"the first line is {lines[0][:40]!r}, not 'tree'")
    keys: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or "=" in value or _KEY.fullmatch(key) is None:
            ck.fail(where, f"line {line[:60]!r} is not a 'key=value' line")
        if key in keys:
            ck.fail(where, f"key {key!r} appears twice")
        keys[key] = value
    for required in (
        "version",
        "num_class",
        "label_index",
        "max_feature_idx",
        "objective",
        "feature_names",
        "feature_infos",
        "tree_sizes",
    ):
        if required not in keys:
            ck.fail(where, f"key {required!r} is missing")
    if keys["version"] != "v4":
        ck.fail(where, f"version is {keys['version'][:20]!r}; this riskscore reads LightGBM 'v4' model text")
    num_class = ck.one_int(where, "num_class", keys["num_class"], 1, _INT32[1])
    per_iteration = ck.one_int(
        where, "num_tree_per_iteration", keys.get("num_tree_per_iteration", str(num_class)), 1, _INT32[1]
    )
    if per_iteration != num_class:
        ck.fail(where, f"num_tree_per_iteration is {per_iteration}, expected num_class = {num_class}")
    ck.one_int(where, "label_index", keys["label_index"], 0, _INT32[1])
    max_feature_idx = ck.one_int(where, "max_feature_idx", keys["max_feature_idx"], 0, _INT32[1] - 1)
    n_features = max_feature_idx + 1
    for field in ("feature_names", "feature_infos"):
        if _TOKENS.fullmatch(keys[field]) is None:
            ck.fail(where, f"field {field!r} must hold names separated by single spaces")
        count = len(keys[field].split(" ")) if keys[field] else 0
        if count != n_features:
            ck.fail(
                where, f"field {field!r} has {count} entries, expected max_feature_idx + 1 = {n_features}"
            )
    if "monotone_constraints" in keys:
        ck.ints(where, "monotone_constraints", keys["monotone_constraints"], n_features, -1, 1)
    _check_objective(ck, keys["objective"], num_class)
    sizes = ck.ints(where, "tree_sizes", keys["tree_sizes"], None, 1, _INT32[1])
    if not sizes:
        ck.fail(where, "tree_sizes lists no tree")
    if len(sizes) % per_iteration:
        ck.fail(
            where,
            f"tree_sizes lists {len(sizes)} trees, not a multiple of num_tree_per_iteration = {per_iteration}",
        )
    return _Header(max_feature_idx, sizes)


def _check_objective(ck: _Checker, objective: str, num_class: int) -> None:
    where = "header"
    match = _OBJECTIVE.fullmatch(objective)
    if match is None:
        ck.fail(
            where,
            f"objective {objective[:60]!r} is not one riskscore trains ('binary sigmoid:<s>', "
            "'multiclass num_class:<k>' or 'multiclassova num_class:<k> sigmoid:<s>')",
        )
    options: dict[str, float] = {}
    for item in match.group(2).split():
        name, _, value = item.partition(":")
        options[name] = float(value)
    sigmoid = options.get("sigmoid", 1.0)
    if not (math.isfinite(sigmoid) and sigmoid > 0):
        ck.fail(where, f"objective {objective!r}: sigmoid must be a positive number")
    expected = 1 if match.group("name") == "binary" else options.get("num_class", -1.0)
    if expected != num_class or (match.group("name") != "binary" and num_class < 2):
        ck.fail(where, f"objective {objective!r} does not match num_class = {num_class}")


def _check_tree(ck: _Checker, block: str, index: int, max_feature_idx: int) -> None:
    where = f"tree {index}"
    head = f"Tree={index}\n"
    if not block.startswith(head):
        ck.fail(where, f"tree_sizes points at {block[:20]!r}, not at the line 'Tree={index}'")
    body = block[len(head) :]
    content = body.rstrip("\n")
    # The C++ parser reads key lines up to the first blank line: that line must lie inside this block, or
    # it would read the next tree (or past the end of the text) as part of this one.
    if len(body) - len(content) < 2:
        ck.fail(
            where, "its block does not end with a blank line (the text is truncated or tree_sizes altered)"
        )
    lines = content.split("\n")
    if "" in lines:
        ck.fail(
            where,
            "its block goes on after the blank line that ends a tree: tree_sizes does not match the trees "
            "(the text or tree_sizes was altered)",
        )
    fields: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            ck.fail(where, f"line {line[:60]!r} is not a 'key=value' line")
        if key not in _TREE_KEYS:
            ck.fail(where, f"unknown field {key[:40]!r}")
        if key in fields:
            ck.fail(where, f"field {key!r} appears twice")
        fields[key] = value
    for required in _TREE_REQUIRED:
        if required not in fields:
            ck.fail(where, f"field {required!r} is missing")
    n_leaves = ck.one_int(where, "num_leaves", fields["num_leaves"], 1, MAX_LEAVES)
    n_nodes = n_leaves - 1
    num_cat = ck.one_int(where, "num_cat", fields["num_cat"], 0, n_nodes)
    if fields.get("is_linear", "0") != "0":
        ck.fail(where, "it is a linear tree (is_linear is not 0), which riskscore never trains")
    ck.floats(where, "shrinkage", fields.get("shrinkage", "1"), 1)
    ck.floats(where, "leaf_value", fields["leaf_value"], n_leaves)
    if n_leaves == 1:
        # LightGBM stops reading here; the other fields of a one-leaf tree are never used.
        return
    for required in _SPLIT_REQUIRED:
        if required not in fields:
            ck.fail(where, f"field {required!r} is missing")
    ck.ints(where, "split_feature", fields["split_feature"], n_nodes, 0, max_feature_idx)
    thresholds = ck.floats(where, "threshold", fields["threshold"], n_nodes, keep=True, infinite=True)
    # at most 0b1011: the missing-value type (d >> 2) & 3 stays 0, 1 or 2, the only ones that exist
    decision = ck.ints(where, "decision_type", fields["decision_type"], n_nodes, 0, _MAX_DECISION_TYPE)
    left = ck.ints(where, "left_child", fields["left_child"], n_nodes, -n_leaves, n_nodes - 1)
    right = ck.ints(where, "right_child", fields["right_child"], n_nodes, -n_leaves, n_nodes - 1)
    _check_structure(ck, where, left, right, n_leaves)
    for field, count in (("split_gain", n_nodes), ("internal_value", n_nodes), ("internal_weight", n_nodes)):
        if field in fields:
            ck.floats(where, field, fields[field], count)
    if "leaf_weight" in fields:
        ck.floats(where, "leaf_weight", fields["leaf_weight"], n_leaves)
    for field, count in (("leaf_count", n_leaves), ("internal_count", n_nodes)):
        if field in fields:
            ck.ints(where, field, fields[field], count, 0, _INT32[1])
    categorical = [node for node, d in enumerate(decision) if d & _CATEGORICAL]
    if categorical and num_cat == 0:
        ck.fail(where, f"node {categorical[0]} is a categorical split but num_cat is 0")
    if num_cat == 0:
        return
    # read by LightGBM whenever num_cat > 0, whether or not a node uses them
    for field in ("cat_boundaries", "cat_threshold"):
        if field not in fields:
            ck.fail(where, f"field {field!r} is missing (num_cat is {num_cat})")
    bounds = ck.ints(where, "cat_boundaries", fields["cat_boundaries"], num_cat + 1, 0, _INT32[1])
    if bounds[0] != 0 or any(prev > nxt for prev, nxt in itertools.pairwise(bounds)):
        ck.fail(where, "field 'cat_boundaries' must start at 0 and never decrease")
    ck.ints(where, "cat_threshold", fields["cat_threshold"], bounds[-1], *_UINT32)
    for node in categorical:
        t = thresholds[node]
        if not (math.isfinite(t) and t == int(t) and 0 <= t < num_cat):
            ck.fail(
                where,
                f"field 'threshold' of categorical node {node} is {t!r}, not a category set index in "
                f"0..{num_cat - 1}",
            )


def _check_structure(ck: _Checker, where: str, left: list[int], right: list[int], n_leaves: int) -> None:
    """Check that the child arrays form one tree rooted at node 0, every node reached once."""
    n_nodes = n_leaves - 1
    # slots 0..n_nodes-1 are internal nodes, n_nodes + k is leaf k (stored as ~k in the child arrays)
    seen = bytearray(n_nodes + n_leaves)
    seen[0] = 1
    stack = [(0, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_DEPTH:
            ck.fail(where, f"it is deeper than {MAX_DEPTH} levels")
        for field, child in (("left_child", left[node]), ("right_child", right[node])):
            slot = child if child >= 0 else n_nodes + ~child
            if seen[slot]:
                what = f"node {child}" if child >= 0 else f"leaf {~child}"
                ck.fail(
                    where,
                    f"field {field!r} of node {node} leads to {what}, which is reached twice "
                    "(a cycle or a shared child)",
                )
            seen[slot] = 1
            if child >= 0:
                stack.append((child, depth + 1))
    if not all(seen):
        missing = seen.index(0)
        what = f"node {missing}" if missing < n_nodes else f"leaf {missing - n_nodes}"
        ck.fail(where, f"fields 'left_child'/'right_child' never reach {what} from the root")


def _check_tail(ck: _Checker, tail: str) -> None:
    where = "after the trees"
    if not tail.startswith("end of trees\n"):
        ck.fail(
            where,
            f"expected 'end of trees' where tree_sizes says the trees end, found {tail[:30]!r} "
            "(tree_sizes or a tree was altered)",
        )
    lines = tail.split("\n")
    if lines[-1] != "" or lines[-2] != _PANDAS_LINE:
        ck.fail(
            where,
            f"the text must end with the line {_PANDAS_LINE!r} (riskscore trains on numeric matrices, "
            "never on pandas categoricals)",
        )
    if lines.count("parameters:") != 1 or lines.count("end of parameters") != 1:
        ck.fail(where, "the 'parameters:' ... 'end of parameters' section is missing or repeated")
    first, last = lines.index("parameters:"), lines.index("end of parameters")
    if last < first:
        ck.fail(where, "'end of parameters' comes before 'parameters:'")
    for line in lines[first + 1 : last]:
        if line and _PARAMETER.fullmatch(line) is None:
            ck.fail(where, f"parameter line {line[:60]!r} is not of the form '[name: value]'")
    if any(lines[last + 1 : -2]):
        ck.fail(where, f"unexpected text between 'end of parameters' and {_PANDAS_LINE!r}")
