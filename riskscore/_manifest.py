"""The schema of a RiskModel file's manifest, checked at load before any field is used.

:func:`riskscore.artifact.read_artifact` proves that the members match the manifest, and a signature (when
present) that the manifest is the one its signer wrote. Neither says that the manifest's *values* make
sense: an unsigned file can be rewritten consistently by anyone, and a bug can write nonsense. Before this
check, ``info="abc"`` raised ValueError, ``severity_prior=null`` TypeError, a one-list calibration
IndexError, and calibration values of 5 gave risk scores of 5.0.

:data:`MANIFEST` below is the whole schema, declared in one place: types, ranges and the keys each table
must (or may) have. :func:`check_manifest` applies it, then the checks that span several fields
(calibration knots, policy shares, rules naming the spec's columns, estimator feature counts). Fields the
loader does not use are not checked, so that a newer writer's extra fields do not break this reader.

Validation stops crashes and nonsense values. It cannot stop a deliberate, consistent edit of an unsigned
file (a removed rule, an importer made exempt, a lower threshold): only a signature does
(``riskscore sign``, ``load(..., require_signature=True)``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from riskscore.exceptions import ArtifactError
from riskscore.spec import ORDERING_OPS, UNDECLARED_ROLES

__all__ = [
    "ESTIMATOR",
    "ESTIMATOR_PARAMS",
    "MANIFEST",
    "MONITOR",
    "POLICY",
    "RULE",
    "check_manifest",
    "check_monitor",
]

_FIX = (
    "a model file written by riskscore always passes this check, so the manifest was altered or written by "
    "a broken build: do not use this file; get it again from its source, or retrain and save the model "
    "(sign deployed models with `riskscore sign` and load them with require_signature=True, so that any "
    "edit is refused)"
)

Fail = Callable[[str, str], NoReturn]
_FLOAT_MAX = 1.7976931348623157e308


def _found(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    """Tell whether `value` is a finite number that converts to a float (a JSON int can be too large)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_FLOAT_MAX < value < _FLOAT_MAX
    return isinstance(value, float) and math.isfinite(value)


class Field:
    """One node of the schema: checks a value found at a path (``policy.rules[0].column``)."""

    def check(self, value: Any, path: str, fail: Fail) -> None:
        """Raise through `fail` if `value` does not match."""
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Field):
    """A finite number (an int or a float, not a bool) in [lo, hi] (``lo_open``: (lo, hi])."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def describe(self) -> str:
        """Describe a matching value, for messages."""
        if self.lo is None and self.hi is None:
            return "a finite number"
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"a finite number in {'(' if self.lo_open else '['}{lo}, {hi}]"

    def check(self, value: Any, path: str, fail: Fail) -> None:
        ok = _is_number(value)
        if ok and self.lo is not None:
            ok = value > self.lo if self.lo_open else value >= self.lo
        if ok and self.hi is not None:
            ok = value <= self.hi
        if not ok:
            fail(path, f"must be {self.describe()}; found {_found(value)}")


@dataclass(frozen=True)
class Integer(Field):
    """An integer (not a bool) in [lo, hi]."""

    lo: int | None = None
    hi: int | None = None

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or (self.lo is not None and value < self.lo)
            or (self.hi is not None and value > self.hi)
        ):
            lo = "-inf" if self.lo is None else str(self.lo)
            hi = "inf" if self.hi is None else str(self.hi)
            fail(path, f"must be an integer in [{lo}, {hi}]; found {_found(value)}")


@dataclass(frozen=True)
class Text(Field):
    """A string, one of `choices` when given."""

    choices: tuple[str, ...] | None = None

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if not isinstance(value, str):
            fail(path, f"must be a string; found {_found(value)}")
        if self.choices is not None and value not in self.choices:
            fail(path, f"must be one of {', '.join(map(repr, self.choices))}; found {_found(value)}")


@dataclass(frozen=True)
class Flag(Field):
    """A JSON boolean."""

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if not isinstance(value, bool):
            fail(path, f"must be true or false; found {_found(value)}")


@dataclass(frozen=True)
class Scalar(Field):
    """A string, a bool or a finite number (a rule's comparison value)."""

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if not (isinstance(value, str | bool) or _is_number(value)):
            fail(path, f"must be a string, a boolean or a finite number; found {_found(value)}")


@dataclass(frozen=True)
class Nullable(Field):
    """``null`` or a value matching `inner`."""

    inner: Field

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if value is not None:
            self.inner.check(value, path, fail)


@dataclass(frozen=True)
class ListOf(Field):
    """A JSON array of `min_len` to `max_len` items, each matching `item`."""

    item: Field
    min_len: int = 0
    max_len: int | None = None

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if not isinstance(value, list):
            fail(path, f"must be a list; found {_found(value)}")
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            size = str(self.min_len) if self.max_len == self.min_len else f"at least {self.min_len}"
            if self.max_len not in (None, self.min_len):
                size = f"{self.min_len} to {self.max_len}"
            fail(path, f"must hold {size} items; found {len(value)}")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]", fail)


@dataclass(frozen=True)
class MapOf(Field):
    """A JSON object with any keys, each value matching `value`."""

    value: Field

    def check(self, value: Any, path: str, fail: Fail) -> None:
        if not isinstance(value, dict):
            fail(path, f"must be a JSON object; found {_found(value)}")
        for key, item in value.items():
            self.value.check(item, f"{path}.{key}", fail)


@dataclass(frozen=True)
class Table(Field):
    """A JSON object with the given fields; those in `optional` may be absent.

    A closed table (the default) refuses keys it does not list: its content is passed as keyword
    arguments (``Rule(**rule)``, ``ChannelModel(**params)``) or read whole. An open one ignores them.
    """

    fields: Mapping[str, Field]
    optional: frozenset[str] = field(default_factory=frozenset)
    closed: bool = True

    def check(self, value: Any, path: str, fail: Fail) -> None:
        where = f"{path}." if path else ""
        if not isinstance(value, dict):
            fail(path or "manifest", f"must be a JSON object; found {_found(value)}")
        for name, spec in self.fields.items():
            if name in value:
                spec.check(value[name], f"{where}{name}", fail)
            elif name not in self.optional:
                fail(f"{where}{name}", "is missing")
        if self.closed:
            unknown = sorted(str(k) for k in value if k not in self.fields)
            if unknown:
                fail(f"{where}{unknown[0]}", f"is not a known field (known: {', '.join(self.fields)})")


@dataclass(frozen=True)
class OneOf(Field):
    """A value matching one of `options`."""

    options: tuple[Field, ...]
    description: str

    def check(self, value: Any, path: str, fail: Fail) -> None:
        for option in self.options:
            try:
                option.check(value, path, _raise_mismatch)
            except _Mismatch:
                continue
            return
        fail(path, f"must be {self.description}; found {_found(value)}")


class _Mismatch(Exception):
    pass


def _raise_mismatch(path: str, problem: str) -> NoReturn:
    raise _Mismatch(path, problem)


SHARE = Number(0.0, 1.0)
PROBABILITY = Number(0.0, 1.0)

#: ``ChannelModel`` constructor arguments as ``get_params()`` stores them; absent ones take their defaults.
ESTIMATOR_PARAMS: Mapping[str, Field] = {
    "n_estimators": Integer(1),
    "learning_rate": Number(0.0, lo_open=True),
    "num_leaves": Integer(2, 131072),
    "max_depth": Integer(-1),
    "min_child_samples": Integer(0),
    "feature_fraction": Number(0.0, 1.0, lo_open=True),
    "bagging_fraction": Number(0.0, 1.0, lo_open=True),
    "lambda_l2": Number(0.0),
    "class_weight": Nullable(
        OneOf((Text(("balanced",)), MapOf(Number(0.0))), "null, 'balanced' or an object of weights per class")
    ),
    "early_stopping_rounds": Integer(0),
    "categorical_features": ListOf(Integer(0)),
    # used as LightGBM's OpenMP thread count when predicting: an absurd count fails thread creation,
    # which aborts the process
    "num_threads": Integer(-1, 1024),
    "random_state": Integer(),
}

ESTIMATOR = Table(
    {
        "params": Table(ESTIMATOR_PARAMS, optional=frozenset(ESTIMATOR_PARAMS)),
        "classes": ListOf(Scalar(), min_len=2),
        "n_features": Integer(1),
        "best_iteration": Integer(1),
    }
)

RULE = Table(
    {
        "column": Text(),
        "op": Text(("==", "!=", ">=", "<=", ">", "<", "in", "not_in", "prefix_in")),
        "value": OneOf(
            (Scalar(), ListOf(Scalar())), "a string, a boolean, a finite number or a list of them"
        ),
        "channel": Text(("red", "yellow", "exempt")),
        "note": Text(),
    }
)

POLICY = Table(
    {
        "red_share": SHARE,
        "yellow_share": SHARE,
        "random_red": SHARE,
        "random_yellow": SHARE,
        "seed": Integer(),
        "rules": ListOf(RULE),
        # compared with p_red and the calibrated risk, both in [0, 1]; null: the model selects nobody
        "red_threshold": Nullable(PROBABILITY),
        "yellow_threshold": Nullable(PROBABILITY),
    }
)

#: The manifest fields RiskModel.from_file reads (the format fields are checked by read_artifact).
MANIFEST = Table(
    {
        "kind": Text(("riskscore.RiskModel",)),
        # RecordSpec.from_dict checks the spec itself; the schema needs the column names for the rules
        "spec": Table(
            {
                "spec": Table({}, closed=False),
                "columns": ListOf(Table({"name": Text(), "role": Text()}, closed=False), min_len=1),
            },
            closed=False,
        ),
        "policy": POLICY,
        "estimator": ESTIMATOR,
        "severity": Nullable(ESTIMATOR),
        "severity_prior": PROBABILITY,
        "calibration": ListOf(ListOf(Number()), min_len=2, max_len=2),
        "info": Table({"model_version": Text()}, optional=frozenset({"model_version"}), closed=False),
    },
    optional=frozenset({"severity", "severity_prior", "info"}),
    closed=False,
)


def check_manifest(manifest: Mapping[str, Any], *, source: str) -> None:
    """Check a RiskModel manifest against :data:`MANIFEST` and its cross-field rules.

    Parameters
    ----------
    manifest : Mapping
        The parsed ``manifest.json`` (as :func:`riskscore.artifact.read_artifact` returns it).
    source : str
        The model file, for messages.

    Raises
    ------
    ArtifactError
        Naming the file, the manifest field (``policy.rules[1].column``), what it must be and what was
        found, and what to do. Checked: types and ranges of every field the loader reads; calibration as
        two equally long lists (none, or at least two knots) with x strictly increasing and y
        non-decreasing, both in [0, 1]; policy shares in [0, 1] summing to at most 1; rules on declared
        columns of the manifest's spec, with a value fitting their operator; thresholds in [0, 1] or null;
        estimators' categorical features below their feature count, the same for both heads.

    Examples
    --------
    >>> check_manifest({"kind": "riskscore.RiskModel"}, source="m.rsk")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riskscore.exceptions.ArtifactError: cannot load model m.rsk: manifest field 'spec' is missing; ...
    """

    def fail(path: str, problem: str) -> NoReturn:
        raise ArtifactError(f"cannot load model {source}: manifest field {path!r} {problem}; {_FIX}")

    MANIFEST.check(dict(manifest), "", fail)
    _check_calibration(manifest["calibration"], fail)
    _check_policy(manifest["policy"], manifest["spec"], fail)
    heads = [("estimator", manifest["estimator"])]
    if manifest.get("severity") is not None:
        heads.append(("severity", manifest["severity"]))
    for name, head in heads:
        n_features = head["n_features"]
        for i, index in enumerate(head["params"].get("categorical_features", [])):
            if index >= n_features:
                fail(
                    f"{name}.params.categorical_features[{i}]",
                    f"is {index}, not a feature index below n_features = {n_features}",
                )
    if len(heads) == 2 and heads[1][1]["n_features"] != heads[0][1]["n_features"]:
        fail(
            "severity.n_features",
            f"is {heads[1][1]['n_features']}, but both heads read the same "
            f"{heads[0][1]['n_features']} features (estimator.n_features)",
        )


def _check_calibration(knots: list[list[float]], fail: Fail) -> None:
    x, y = knots
    if len(x) != len(y):
        fail("calibration", f"must be two lists of equal length (x and y knots); found {len(x)} and {len(y)}")
    if len(x) == 1:
        fail("calibration", "must hold no knot (no calibration) or at least two; found one")
    for name, values in (("calibration[0]", x), ("calibration[1]", y)):
        outside = next((v for v in values if not 0.0 <= v <= 1.0), None)
        if outside is not None:
            fail(name, f"must hold probabilities in [0, 1]; found {outside!r}")
    if any(b <= a for a, b in itertools.pairwise(x)):
        fail("calibration[0]", "(the raw scores) must be strictly increasing")
    if any(b < a for a, b in itertools.pairwise(y)):
        fail(
            "calibration[1]",
            "(the calibrated risks) must never decrease, so that calibration keeps the ranking",
        )


def _check_policy(policy: Mapping[str, Any], spec: Mapping[str, Any], fail: Fail) -> None:
    shares = ("red_share", "yellow_share", "random_red", "random_yellow")
    total = sum(policy[name] for name in shares)
    if total > 1.0:
        fail("policy", f"shares ({' + '.join(shares)}) must sum to at most 1; found {total:g}")
    # rules read the records' declared columns (not truth, oracle, outcome or label ones)
    declared = {c["name"]: c["type"] for c in spec["columns"] if c["role"] not in UNDECLARED_ROLES}
    for i, rule in enumerate(policy["rules"]):
        path = f"policy.rules[{i}]"
        if rule["column"] not in declared:
            fail(f"{path}.column", f"is {rule['column']!r}, not a declared column of the model's spec")
        op, value = rule["op"], rule["value"]
        if op in ORDERING_OPS and declared[rule["column"]] not in ("int", "float"):
            fail(
                f"{path}.op",
                f"is {op!r} on {declared[rule['column']]} column {rule['column']!r}; it needs a number column",
            )
        if op in ("in", "not_in", "prefix_in"):
            if not isinstance(value, list):
                fail(f"{path}.value", f"must be a list for operator {op!r}; found {_found(value)}")
        elif isinstance(value, list):
            fail(f"{path}.value", f"must be a single value for operator {op!r}; found a list")
        elif op not in ("==", "!=") and not _is_number(value):
            fail(f"{path}.value", f"must be a finite number for operator {op!r}; found {_found(value)}")


# --------------------------------------------------------------------------------------------------------
# monitor.json: the training reference of riskscore.monitor (riskscore/monitoring.py writes it)
# --------------------------------------------------------------------------------------------------------

#: The layout versions of ``monitor.json`` this reader understands.
MONITOR_VERSIONS = (1,)
_CHANNELS = ("green", "yellow", "red")
_WINDOW = Table({"rows": Integer(0), "period": Nullable(ListOf(Text(), min_len=2, max_len=2))})
_UNSEEN = Table(
    {
        "basis": Nullable(Text(("values", "history", "categories"))),
        "reference": Nullable(SHARE),
        "values": ListOf(Text()),
        "feature": Text(),
    },
    optional=frozenset({"values", "feature"}),
)
#: One profiled field; which keys it must have depends on its kind (checked in :func:`check_monitor`).
MONITOR_FIELD = Table(
    {
        "name": Text(),
        "kind": Text(("numeric", "categorical", "entity")),
        "protected": Flag(),
        "edges": ListOf(Number()),
        "shares": ListOf(SHARE, min_len=1),
        "range": Nullable(ListOf(Number(), min_len=2, max_len=2)),
        "categories": ListOf(Text()),
        "unseen": _UNSEEN,
    },
    optional=frozenset({"edges", "shares", "range", "categories", "unseen"}),
)
_KIND_KEYS = {
    "numeric": ("edges", "shares", "range"),
    "categorical": ("categories", "shares", "unseen"),
    "entity": ("unseen",),
}

#: The fields of ``monitor.json``.
MONITOR = Table(
    {
        "format": Text(("riskscore-monitor",)),
        "version": Integer(1),
        "training": _WINDOW,
        "validation": _WINDOW,
        "fields": ListOf(MONITOR_FIELD),
        "risk": Table({"edges": ListOf(Number()), "shares": ListOf(SHARE, min_len=1)}),
        "channels": Table(
            {
                "reference": Table({c: SHARE for c in _CHANNELS}),
                "target": Table({c: SHARE for c in _CHANNELS}),
            }
        ),
        "hit_rate": Nullable(Table({"inspected": Integer(0), "hits": Integer(0)})),
    }
)


def check_monitor(profile: Any, spec: Mapping[str, Any], *, source: str) -> None:
    """Check a model file's ``monitor.json`` against :data:`MONITOR` and the model's spec.

    Parameters
    ----------
    profile
        The parsed ``monitor.json``.
    spec
        The manifest's (schema-checked) spec: every profiled field must be one of its declared columns.
    source
        The model file, for messages.

    Raises
    ------
    ArtifactError
        Naming the file and the field (``monitor.json fields[3].edges``): a newer layout version than this
        riskscore reads, a value of the wrong type or range, bin edges not strictly increasing, share lists
        that do not fit their bins, a field that is no declared column of the spec, or a field twice.

    Examples
    --------
    >>> check_monitor({"format": "riskscore-monitor", "version": 9}, {"columns": []}, source="m.rsk")
    Traceback (most recent call last):
    ...
    riskscore.exceptions.ArtifactError: cannot load model m.rsk: its monitoring state ... version 9, newer ...
    """

    def fail(path: str, problem: str) -> NoReturn:
        raise ArtifactError(f"cannot load model {source}: monitor.json field {path!r} {problem}; {_FIX}")

    if not isinstance(profile, dict):
        raise ArtifactError(
            f"cannot load model {source}: monitor.json must hold a JSON object; found {_found(profile)}; {_FIX}"
        )
    version = profile.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        if version > max(MONITOR_VERSIONS):
            raise ArtifactError(
                f"cannot load model {source}: its monitoring state (monitor.json) has layout version {version}, "
                f"newer than this riskscore reads ({max(MONITOR_VERSIONS)}); upgrade riskscore to load it"
            )
    MONITOR.check(profile, "", fail)
    declared = {c["name"] for c in spec["columns"] if c["role"] not in UNDECLARED_ROLES}
    seen: set[str] = set()
    for i, item in enumerate(profile["fields"]):
        path = f"fields[{i}]"
        if item["name"] not in declared:
            fail(f"{path}.name", f"is {item['name']!r}, not a declared column of the model's spec")
        if item["name"] in seen:
            fail(f"{path}.name", f"is {item['name']!r}, profiled twice")
        seen.add(item["name"])
        for key in _KIND_KEYS[item["kind"]]:
            if key not in item:
                fail(
                    f"{path}.{key}",
                    f"is missing (a {item['kind']} field has {', '.join(_KIND_KEYS[item['kind']])})",
                )
        if item["kind"] == "numeric":
            _check_bins(item["edges"], item["shares"], 2, f"{path}", fail)
        elif item["kind"] == "categorical":
            if len(item["shares"]) != len(item["categories"]) + 2:
                fail(
                    f"{path}.shares",
                    f"must hold one share per category, then other and missing ({len(item['categories']) + 2}); "
                    f"found {len(item['shares'])}",
                )
        unseen = item.get("unseen")
        if unseen is not None:
            need = {"values": "values", "history": "feature"}.get(str(unseen["basis"]))
            if need is not None and need not in unseen:
                fail(f"{path}.unseen.{need}", f"is missing (basis {unseen['basis']!r} needs it)")
    _check_bins(profile["risk"]["edges"], profile["risk"]["shares"], 1, "risk", fail)
    hit_rate = profile["hit_rate"]
    if hit_rate is not None and hit_rate["hits"] > hit_rate["inspected"]:
        fail("hit_rate.hits", f"is {hit_rate['hits']}, more than the {hit_rate['inspected']} inspected")


def _check_bins(edges: list[float], shares: list[float], extra: int, path: str, fail: Fail) -> None:
    """Edges strictly increasing, and one share per bin (``extra``: bins beyond the edges' count)."""
    if any(b <= a for a, b in itertools.pairwise(edges)):
        fail(f"{path}.edges", "(bin edges) must be strictly increasing")
    if len(shares) != len(edges) + extra:
        fail(
            f"{path}.shares",
            f"must hold {len(edges) + extra} shares for {len(edges)} bin edges; found {len(shares)}",
        )
