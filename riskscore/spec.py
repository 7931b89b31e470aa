"""Record specs: declarative descriptions of one kind of record, and validation of frames against them.

A *record spec* is a small TOML file that says which columns a record carries (customs declarations,
passenger trips, or a user's own table), of which type, with which role and which constraints::

    [spec]
    name = "shipment"
    version = 1
    description = "Import declarations"
    id = "declaration_id"
    timestamp = "declared_at"

    [[columns]]
    name = "declaration_id"
    type = "string"
    role = "id"
    pattern = "^D[0-9]+$"

Roles ``truth``, ``oracle``, ``outcome`` and ``label`` mark columns that are *not declared*: they come from
the synthetic generator or from past inspections and must never be model inputs. Every other role is a
*declared* column, something a record carries when it is lodged.

:func:`load_spec` reads a built-in spec by name (``"shipment"``, ``"passenger"``) or a TOML file by path,
:func:`validate_frame` checks a :class:`pandas.DataFrame` against a spec and returns a copy with canonical
dtypes, and :func:`schema_summary` renders a spec as a table for documentation and notebooks.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskscore._fmt import did_you_mean, fmt_number, quote_list
from riskscore.exceptions import ParameterError, SpecError
from riskscore.features.registry import KINDS

__all__ = [
    "ColumnSpec",
    "DerivedFeature",
    "LabelSpec",
    "PolicySpec",
    "RecordSpec",
    "load_spec",
    "schema_summary",
]


def __getattr__(name: str) -> Any:
    # validate_frame moved to riskscore.validation (checking a frame is a job of its own); the old path
    # keeps working for a release, with a warning that says where it went
    if name == "validate_frame":
        import importlib
        import warnings

        warnings.warn(
            "riskscore.spec.validate_frame moved: import it from riskscore (or riskscore.validation)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module("riskscore.validation").validate_frame
    if name in ("infer_spec", "infer_spec_with_notes"):
        # inference reads data (pandas work) and builds specs: its own module, reachable from here too
        import importlib

        return getattr(importlib.import_module("riskscore.infer"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The column types a spec may use, in the order they are listed in error messages.
COLUMN_TYPES: tuple[str, ...] = ("string", "category", "int", "float", "bool", "datetime")

#: The column roles a spec may use.
ROLES: tuple[str, ...] = (
    "id",
    "timestamp",
    "entity",
    "category",
    "amount",
    "quantity",
    "weight",
    "count",
    "rate",
    "duration",
    "flag",
    "protected",
    "text",
    "truth",
    "oracle",
    "outcome",
    "label",
)

#: The steps a text column's ``normalize`` may list, applied in the order given.
NORMALIZE_STEPS: tuple[str, ...] = ("strip", "upper", "lower")

#: Roles of columns that are *not declared*: produced by the generator or by past inspections, never inputs.
UNDECLARED_ROLES: frozenset[str] = frozenset({"truth", "oracle", "outcome", "label"})

_NUMERIC_TYPES = frozenset({"int", "float"})
_TEXT_TYPES = frozenset({"string", "category"})
_SPEC_KEYS = ("name", "version", "description", "id", "timestamp")
_REQUIRED_SPEC_KEYS = ("name", "version", "id", "timestamp")
_TOP_LEVEL_KEYS = ("spec", "columns", "features", "labels", "policy")

_FEATURE_KEYS = ("name", "kind", "inputs", "by", "key", "group", "windows", "first_seen", "description")
_BUILTIN_PACKAGE = "riskscore"
_BUILTIN_DIR = "specs"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------------------
# Column and record specs
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    """The spec of one column.

    Parameters
    ----------
    name : str
        The column name.
    type : str
        One of ``string``, ``category``, ``int``, ``float``, ``bool``, ``datetime``.
    role : str
        What the column means (``id``, ``timestamp``, ``amount``, ``truth``...); see ``ROLES``.
    description : str, default ""
        Free text for documentation.
    nullable : bool, default False
        Whether missing values (NaN, None, NaT) are allowed.
    required : bool, default True
        Whether the column must be present. Columns that are not declared (roles ``truth``, ``oracle``,
        ``outcome``, ``label``) are never required for scoring, whatever this says.
    min, max : float or None
        Inclusive bounds, ``int`` and ``float`` columns only. Stored as floats.
    values : tuple of str or None
        The allowed values of a ``string`` or ``category`` column (a closed set, unless `open`).
    open : bool, default False
        ``string``/``category`` only: the value set is open (high-cardinality ids), `values` is not checked.
    pattern : str or None
        ``string``/``category`` only: a regular expression every non-missing value must fully match.
    protected : bool, default False
        A protected attribute (sex, nationality, age) excluded from model features by default. Always true
        for role ``protected``.
    normalize : tuple of str or None
        ``string``/``category`` only: steps applied to every value before it is checked and used, in order:
        ``"strip"`` (surrounding white space), ``"upper"`` or ``"lower"`` (case). Entity ids that arrive as
        ``"IM000284 "`` or ``"im000284"`` then keep their history. Applied identically when training,
        scoring a batch and scoring one record.
    label : str or None
        A short name people read (``"Origin country"``), used in reason sentences and reports; the column
        name with spaces for underscores when unset (see :attr:`display`).
    format : str or None
        ``datetime`` only: the ``strftime`` layout of text times (e.g. ``"%d/%m/%Y %H:%M"``). Without it,
        text times must be ISO 8601; day/month order is never guessed.

    Raises
    ------
    SpecError
        If a field is of the wrong kind or the combination is invalid (bounds on a text column, ``min >
        max``, ``values`` on a numeric column, an invalid regular expression...).
    """

    name: str
    type: str
    role: str
    description: str = ""
    nullable: bool = False
    required: bool = True
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    open: bool = False
    pattern: str | None = None
    protected: bool = False
    normalize: tuple[str, ...] | None = None
    format: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"a column name must be a non-empty string, got {self.name!r}")
        where = f"column {self.name!r}"
        if self.type not in COLUMN_TYPES:
            raise SpecError(
                f"{where}: unknown type {self.type!r}{did_you_mean(str(self.type), COLUMN_TYPES)}; "
                f"allowed types: {', '.join(COLUMN_TYPES)}"
            )
        if self.role not in ROLES:
            raise SpecError(
                f"{where}: unknown role {self.role!r}{did_you_mean(str(self.role), ROLES)}; "
                f"allowed roles: {', '.join(ROLES)}"
            )
        if not isinstance(self.description, str):
            raise SpecError(f"{where}: description must be a string, got {self.description!r}")
        for flag in ("nullable", "required", "open", "protected"):
            if not isinstance(getattr(self, flag), bool):
                raise SpecError(f"{where}: {flag} must be true or false, got {getattr(self, flag)!r}")
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if value is None:
                continue
            if not _is_number(value) or math.isnan(value):
                raise SpecError(f"{where}: {bound} must be a number, got {value!r}")
            if self.type not in _NUMERIC_TYPES:
                raise SpecError(
                    f"{where}: {bound} applies only to int and float columns, not to type {self.type!r}; "
                    f"remove it from the spec"
                )
            object.__setattr__(self, bound, float(value))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SpecError(
                f"{where}: min ({fmt_number(self.min)}) is greater than max ({fmt_number(self.max)})"
            )
        if self.values is not None:
            if isinstance(self.values, str) or not isinstance(self.values, list | tuple):
                raise SpecError(f"{where}: values must be a list of strings, got {self.values!r}")
            if self.type not in _TEXT_TYPES:
                raise SpecError(
                    f"{where}: values applies only to string and category columns, not to type "
                    f"{self.type!r}; use min/max for numbers or change the type to category"
                )
            bad = [v for v in self.values if not isinstance(v, str)]
            if bad:
                raise SpecError(f"{where}: values must be strings, got {quote_list(bad)}")
            repeated = sorted({v for v in self.values if self.values.count(v) > 1})
            if repeated:
                raise SpecError(f"{where}: values lists {quote_list(repeated)} more than once")
            object.__setattr__(self, "values", tuple(self.values))
        if self.open and self.type not in _TEXT_TYPES:
            raise SpecError(f"{where}: open applies only to string and category columns, not {self.type!r}")
        if self.pattern is not None:
            if not isinstance(self.pattern, str):
                raise SpecError(f"{where}: pattern must be a string, got {self.pattern!r}")
            if self.type not in _TEXT_TYPES:
                raise SpecError(
                    f"{where}: pattern applies only to string and category columns, not {self.type!r}"
                )
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise SpecError(f"{where}: pattern {self.pattern!r} is not a valid regex: {exc}") from exc
        if self.normalize is not None:
            steps = self.normalize
            if isinstance(steps, str) or not isinstance(steps, list | tuple):
                raise SpecError(
                    f'{where}: normalize must be a list such as ["strip", "upper"], got {steps!r}'
                )
            unknown_steps = [v for v in steps if v not in NORMALIZE_STEPS]
            if unknown_steps:
                raise SpecError(
                    f"{where}: unknown normalize step(s) {quote_list(unknown_steps)}; "
                    f"allowed: {', '.join(NORMALIZE_STEPS)}"
                )
            if self.type not in _TEXT_TYPES:
                raise SpecError(
                    f"{where}: normalize applies only to string and category columns, not {self.type!r}"
                )
            if "upper" in steps and "lower" in steps:
                raise SpecError(f"{where}: normalize cannot hold both 'upper' and 'lower'; keep one")
            object.__setattr__(self, "normalize", tuple(steps))
        if self.format is not None:
            if not isinstance(self.format, str) or "%" not in self.format:
                raise SpecError(
                    f"{where}: format must be a strftime layout such as '%d/%m/%Y %H:%M', got {self.format!r}"
                )
            if self.type != "datetime":
                raise SpecError(f"{where}: format applies only to datetime columns, not {self.type!r}")
        if self.label is not None and (not isinstance(self.label, str) or not self.label.strip()):
            raise SpecError(f"{where}: label must be a non-empty string, got {self.label!r}")
        if self.role == "protected":
            object.__setattr__(self, "protected", True)

    @property
    def display(self) -> str:
        """The name people read: ``label``, else the column name with spaces for underscores, capitalised."""
        if self.label is not None:
            return self.label
        text = self.name.replace("_", " ").strip()
        return text[:1].upper() + text[1:]

    @property
    def declared(self) -> bool:
        """Whether the column is declared (carried by a lodged record), i.e. its role is not truth-like."""
        return self.role not in UNDECLARED_ROLES

    def to_dict(self) -> dict[str, Any]:
        """Return the column as a plain dict (TOML/JSON friendly: unset optional fields are left out).

        Returns
        -------
        dict
            Always ``name``, ``type``, ``role``, ``description``, ``nullable``, ``required``, ``open`` and
            ``protected``; ``min``, ``max``, ``values`` (a list), ``pattern``, ``normalize`` (a list),
            ``format`` and ``label`` when set.
        """
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "role": self.role,
            "description": self.description,
            "nullable": self.nullable,
            "required": self.required,
            "open": self.open,
            "protected": self.protected,
        }
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.values is not None:
            out["values"] = list(self.values)
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.normalize is not None:
            out["normalize"] = list(self.normalize)
        if self.format is not None:
            out["format"] = self.format
        if self.label is not None:
            out["label"] = self.label
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Build a column spec from a ``[[columns]]`` table.

        Parameters
        ----------
        data : Mapping
            The table; ``name``, ``type`` and ``role`` are required, unknown keys are an error.

        Returns
        -------
        ColumnSpec

        Raises
        ------
        SpecError
            If a key is missing or unknown, or a value is invalid.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"a column must be a table, got {data!r}")
        label = f"column {data['name']!r}" if isinstance(data.get("name"), str) else "a column"
        allowed = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in allowed]
        if unknown:
            hints = "".join(did_you_mean(str(k), allowed) for k in unknown)
            raise SpecError(
                f"{label}: unknown key(s) {quote_list(unknown)}{hints}; allowed keys: {', '.join(allowed)}"
            )
        missing = [k for k in ("name", "type", "role") if k not in data]
        if missing:
            raise SpecError(f"{label}: missing required key(s) {quote_list(missing)}")
        kwargs = dict(data)
        for key in ("values", "normalize"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def _name_of(data: object) -> object:
    return data.get("name") if isinstance(data, Mapping) else None


def _check_table(data: object, allowed: tuple[str, ...], what: str, where: str) -> None:
    """Refuse a TOML table that is not a table or has keys outside ``allowed`` (with a close-name hint)."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{what} must be a table, got {type(data).__name__}")
    unknown = [k for k in data if k not in allowed]
    if unknown:
        hints = "".join(did_you_mean(str(k), allowed) for k in unknown)
        raise SpecError(
            f"{where}: unknown key(s) {quote_list(unknown)}{hints}; allowed: {', '.join(allowed)}"
        )


@dataclass(frozen=True)
class DerivedFeature:
    """A feature computed from columns (or earlier derived features), declared in a spec's [[features]].

    Parameters
    ----------
    name : str
        Identifier; history features produce several columns prefixed with it.
    kind : str
        One of ``log_ratio`` (log of a / b), ``ratio`` (a / b), ``not_equal`` (a != b), ``reference``
        (log value against the training reference of its group, with backoff through ``by``),
        ``group_max_gap`` (highest typical value of ``key`` codes in ``group`` minus the record's value),
        ``history`` (prior count, smoothed prior hit rate, optionally days since first seen, window counts
        of the entity given by the inputs, strictly earlier days only), ``calendar`` (day of week, hour:
        not the month, which a year of history has seen only once).
    inputs : tuple of str
        Column names or earlier derived feature names.
    by : tuple of tuple of str
        ``reference`` only: grouping levels from finest to coarsest; ``"hs_code:4"`` means the first 4
        characters of ``hs_code``.
    key, group : str
        ``group_max_gap`` only: the code column and its grouping (e.g. ``hs_code`` in ``hs_code:4``).
    windows : tuple of int
        ``history`` only: day windows for recent counts (e.g. 7, 30, 90).
    first_seen : bool
        ``history`` only: also produce days since the entity was first seen. Meaningful for entities that
        come and go (importers, travellers); for long-lived ones (HS codes, origins) it only measures how
        old the data set is, a time proxy that drifts.
    description : str
        Free text.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    by: tuple[tuple[str, ...], ...] = ()
    key: str = ""
    group: str = ""
    windows: tuple[int, ...] = ()
    first_seen: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SpecError(f"[[features]] name must be an identifier, got {self.name!r}")
        if not isinstance(self.first_seen, bool):
            raise SpecError(
                f"feature {self.name!r}: first_seen must be true or false, got {self.first_seen!r}"
            )
        where = f"feature {self.name!r}"
        if self.kind not in KINDS:
            raise SpecError(
                f"{where}: unknown kind {self.kind!r}{did_you_mean(str(self.kind), KINDS)}; "
                f"allowed kinds: {', '.join(KINDS)}"
            )
        object.__setattr__(self, "inputs", tuple(str(i) for i in self.inputs))
        object.__setattr__(self, "by", tuple(tuple(str(c) for c in level) for level in self.by))
        object.__setattr__(self, "windows", tuple(int(w) for w in self.windows))
        kind = KINDS[self.kind]
        lo, hi = kind.arity
        if not lo <= len(self.inputs) <= hi:
            raise SpecError(f"{where}: kind {self.kind!r} takes {lo}..{hi} inputs, got {list(self.inputs)}")
        problem = kind.check(self, where)
        if problem is not None:
            raise SpecError(problem)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (TOML layout); empty optional fields are left out."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "inputs": list(self.inputs)}
        if self.by:
            out["by"] = [list(level) for level in self.by]
        for key in ("key", "group", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.windows:
            out["windows"] = list(self.windows)
        if self.first_seen:
            out["first_seen"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DerivedFeature:
        """Build from the TOML layout; unknown keys are a SpecError."""
        _check_table(data, _FEATURE_KEYS, "a [[features]] entry", f"[[features]] {_name_of(data)!r}")
        for required in ("name", "kind", "inputs"):
            if required not in data:
                raise SpecError(f"[[features]] entry is missing {required!r}: {dict(data)!r}")
        return cls(**{k: data[k] for k in data})


_LABEL_KEYS = ("outcome", "values", "inspected", "propensity", "truth", "revenue", "check", "physical")
_CHANNELS = ("green", "yellow", "red")


def outcome_text(values: pd.Series) -> pd.Series:
    """Return outcome values as the text ``[labels] values`` are keyed by: 1, 1.0, True and " 1" read "1".

    Converted once per distinct value (outcome columns hold a handful), missing values stay missing.

    Examples
    --------
    >>> outcome_text(pd.Series([1, 2.0, True, " 0", None], dtype=object)).tolist()
    ['1', '2', '1', '0', None]
    """

    def one(value: object) -> str:
        if isinstance(value, bool | np.bool_):
            return "1" if value else "0"
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value).strip()

    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    texts = np.array([one(v) for v in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=values.index, dtype=object)


@dataclass(frozen=True)
class LabelSpec:
    """Where a record's inspection outcome is, and what it means: a spec's ``[labels]`` table.

    Parameters
    ----------
    outcome : str
        The column holding what an inspection found (role ``label`` or ``outcome``): channel words, a 0/1
        fraud flag, a finding level...
    values : mapping of str to str
        Each outcome value (as text) -> the channel it deserved: ``green`` (nothing found), ``yellow``
        (a documentary violation) or ``red`` (a serious one). Default: the channel words themselves.
    inspected : str or None
        A bool column saying which records were inspected; None: every record with an outcome was.
    propensity : str or None
        The probability that the policy which chose the inspections selected the record (inverse
        propensity weights, docs/domain.md 4.3); None: inspections are weighted equally.
    truth : str or None
        On synthetic data, the channel each record truly deserves (``riskscore train --label truth``).
    revenue : str or None
        Revenue recovered or at stake per record, for revenue figures.
    check : str or None
        The column saying what kind of check each inspection was (for example the channel it was sent to).
        With ``physical``, training adds a head that learns from physical checks only: a documentary check
        cannot find quantity misdeclaration, concealment or diversion (docs/domain.md 4.1), so its "nothing
        found" says nothing about them. None: every outcome counts alike.
    physical : tuple of str
        The values of ``check`` that mean a physical examination (e.g. ``["red"]``).
    """

    outcome: str
    values: tuple[tuple[str, str], ...] = tuple((c, c) for c in _CHANNELS)
    inspected: str | None = None
    propensity: str | None = None
    truth: str | None = None
    revenue: str | None = None
    check: str | None = None
    physical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        values = self.values
        if isinstance(values, Mapping):
            values = tuple((str(k), v) for k, v in values.items())
        object.__setattr__(self, "values", tuple(values))
        if not isinstance(self.outcome, str) or not self.outcome:
            raise SpecError(f"[labels] outcome must name a column, got {self.outcome!r}")
        bad = [v for _, v in self.values if v not in _CHANNELS]
        if bad or not self.values:
            raise SpecError(
                f"[labels] values map outcome values to channels green, yellow or red; got {quote_list(bad)}. "
                'Write e.g. values = { "0" = "green", "1" = "yellow", "2" = "red" }'
            )
        for key in ("inspected", "propensity", "truth", "revenue", "check"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or not v):
                raise SpecError(f"[labels] {key} must name a column, got {v!r}")
        physical = self.physical
        if isinstance(physical, str) or not all(isinstance(v, str) and v for v in physical):
            raise SpecError(
                f'[labels] physical must list the check values that mean a physical examination, e.g. ["red"]; '
                f"got {physical!r}"
            )
        object.__setattr__(self, "physical", tuple(physical))
        if (self.check is None) != (not self.physical):
            raise SpecError(
                "[labels] check and physical go together: name the column saying what kind of check each "
                'inspection was (check = "legacy_channel") and its values meaning a physical one '
                '(physical = ["red"])'
            )

    @property
    def channel_of(self) -> dict[str, str]:
        """Outcome value (as text) -> channel."""
        return dict(self.values)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (TOML layout); unset optional fields are left out."""
        out: dict[str, Any] = {"outcome": self.outcome, "values": dict(self.values)}
        for key in ("inspected", "propensity", "truth", "revenue", "check"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.physical:
            out["physical"] = list(self.physical)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSpec:
        """Build from the ``[labels]`` table; unknown keys are a SpecError."""
        _check_table(data, _LABEL_KEYS, "[labels]", "[labels]")
        if "outcome" not in data:
            raise SpecError("[labels] needs `outcome`: the column holding what an inspection found")
        kwargs = dict(data)
        if isinstance(kwargs.get("values"), Mapping):
            kwargs["values"] = tuple((str(k), v) for k, v in kwargs["values"].items())
        return cls(**kwargs)


#: Rule operators that compare numbers (a text or category column cannot be ordered).
ORDERING_OPS = (">=", "<=", ">", "<")
_POLICY_KEYS = ("red_share", "yellow_share", "random_red", "random_yellow", "rules")
_POLICY_SHARES = ("red_share", "yellow_share", "random_red", "random_yellow")
_RULE_KEYS = ("column", "op", "value", "channel", "note")
# the operators and channels of riskscore.policy.Rule, repeated here: spec.py must not import the policy
# module (the policy is built from the spec, never the other way round)
_RULE_OPS = ("==", "!=", ">=", "<=", ">", "<", "in", "not_in", "prefix_in")
_RULE_CHANNELS = ("red", "yellow", "exempt")
_LIST_OPS = frozenset({"in", "not_in", "prefix_in"})
_NUMBER_OPS = frozenset({">=", "<=", ">", "<"})


def _rule(data: object, position: int) -> dict[str, Any]:
    """Check one ``[[policy.rules]]`` entry and return it in canonical form (list values as tuples)."""
    where = f"[[policy.rules]] #{position + 1}"
    if isinstance(data, Mapping) and isinstance(data.get("column"), str):
        where += f" (column {data['column']!r})"
    _check_table(data, _RULE_KEYS, "a [[policy.rules]] entry", where)
    assert isinstance(data, Mapping)
    missing = [k for k in ("column", "op", "value", "channel") if k not in data]
    if missing:
        raise SpecError(f"{where}: missing key(s) {quote_list(missing)}")
    column, op, value, channel = data["column"], data["op"], data["value"], data["channel"]
    note = data.get("note", "")
    if not isinstance(column, str) or not column:
        raise SpecError(f"{where}: column must name a column, got {column!r}")
    if op not in _RULE_OPS:
        raise SpecError(
            f"{where}: unknown op {op!r}{did_you_mean(str(op), _RULE_OPS)}; use one of {_RULE_OPS}"
        )
    if channel not in _RULE_CHANNELS:
        raise SpecError(f"{where}: channel must be red, yellow or exempt, got {channel!r}")
    if not isinstance(note, str):
        raise SpecError(f"{where}: note must be a string, got {note!r}")
    if op in _LIST_OPS:
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise SpecError(f'{where}: op {op!r} needs a list of values, e.g. value = ["8703", "8711"]')
        value = tuple(value)
        items = value
    else:
        items = (value,)
    odd = [item for item in items if not isinstance(item, str | int | float)]  # bool is an int
    if odd:
        raise SpecError(f"{where}: value must be text, a number or true/false, got {odd[0]!r}")
    if op in _NUMBER_OPS and (isinstance(value, bool) or not _is_number(value)):
        raise SpecError(f"{where}: op {op!r} needs a number, got {value!r}")
    return {"column": column, "op": op, "value": value, "channel": channel, "note": note}


@dataclass(frozen=True)
class PolicySpec:
    """How scores become channels for this kind of record: a spec's optional ``[policy]`` table.

    The trainer turns it into a :class:`riskscore.policy.ChannelPolicy`; the spec only declares and checks it.

    Parameters
    ----------
    red_share, yellow_share : float or None
        Target shares of records the model sends to red and to yellow (inspection capacity), in [0, 1].
        None: the trainer's default.
    random_red, random_yellow : float or None
        Shares selected at random (exploration, unbiased labels), in [0, 1]. None: the trainer's default.
    rules : tuple of dict
        Mandatory criteria and exemptions, in order, each ``{"column", "op", "value", "channel", "note"}``:
        ``op`` one of ``==``, ``!=``, ``>=``, ``<=``, ``>``, ``<``, ``in``, ``not_in``, ``prefix_in`` (list
        values for the last three, stored as tuples), ``channel`` ``red``, ``yellow`` or ``exempt``, ``note``
        the reason people read (default ``""``). A rule's column must be a declared column of the spec
        (checked by :class:`RecordSpec`).

    Raises
    ------
    SpecError
        A share outside [0, 1], shares adding up to more than 1, an unknown operator or channel, a list
        operator without a list, a comparison without a number, an unknown key.

    Examples
    --------
    >>> p = PolicySpec(red_share=0.05, rules=({"column": "aeo", "op": "==", "value": True, "channel": "exempt"},))
    >>> p.rules[0]["note"]
    ''
    """

    red_share: float | None = None
    yellow_share: float | None = None
    random_red: float | None = None
    random_yellow: float | None = None
    rules: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for name in _POLICY_SHARES:
            value = getattr(self, name)
            if value is None:
                continue
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise SpecError(
                    f"[policy] {name} is a share and must be a number between 0 and 1, got {value!r}"
                )
            object.__setattr__(self, name, float(value))
        given = [getattr(self, n) for n in _POLICY_SHARES if getattr(self, n) is not None]
        if sum(given) > 1.0:
            raise SpecError(
                f"[policy] shares red_share + yellow_share + random_red + random_yellow add up to "
                f"{fmt_number(sum(given))}; they must not exceed 1"
            )
        if isinstance(self.rules, str | bytes | Mapping) or not isinstance(self.rules, Iterable):
            raise SpecError(f"[policy] rules must be a list of [[policy.rules]] tables, got {self.rules!r}")
        object.__setattr__(self, "rules", tuple(_rule(r, i) for i, r in enumerate(self.rules)))

    def __hash__(self) -> int:  # rules are dicts, which do not hash: equal policies share these anyway
        return hash((*(getattr(self, n) for n in _POLICY_SHARES), len(self.rules)))

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (TOML layout): unset shares and empty notes are left out, list values are lists."""
        out: dict[str, Any] = {n: getattr(self, n) for n in _POLICY_SHARES if getattr(self, n) is not None}
        rules = []
        for rule in self.rules:
            item = {k: list(v) if isinstance(v, tuple) else v for k, v in rule.items()}
            if not item["note"]:
                del item["note"]
            rules.append(item)
        if rules:
            out["rules"] = rules
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySpec:
        """Build from the ``[policy]`` table (with its ``[[policy.rules]]``); unknown keys are a SpecError."""
        _check_table(data, _POLICY_KEYS, "[policy]", "[policy]")
        return cls(**dict(data))


@dataclass(frozen=True)
class RecordSpec:
    """The spec of one kind of record: its identity, its id and time columns, and its columns.

    Parameters
    ----------
    name : str
        A Python identifier (``shipment``, ``passenger``...).
    version : int
        The spec's version, ``>= 1``.
    description : str
        Free text for documentation.
    id_column : str
        The name of the record id column (a column with role ``id``).
    time_column : str
        The name of the record time column (a column with role ``timestamp``).
    columns : tuple of ColumnSpec
        The columns, in canonical order.
    features : tuple of DerivedFeature
        The ``[[features]]``.
    labels : LabelSpec or None
        The ``[labels]`` table.
    policy : PolicySpec or None
        The optional ``[policy]`` table (channel shares and rules); a rule may only name a declared column.

    Raises
    ------
    SpecError
        If the name or version is invalid, a column name repeats, or the id/time column is absent or has
        the wrong role.
    """

    name: str
    version: int
    description: str
    id_column: str
    time_column: str
    columns: tuple[ColumnSpec, ...]
    features: tuple[DerivedFeature, ...] = ()
    labels: LabelSpec | None = None
    policy: PolicySpec | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SpecError(f"spec name must be an identifier such as 'shipment', got {self.name!r}")
        where = f"spec {self.name!r}"
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 1:
            raise SpecError(f"{where}: version must be an integer >= 1, got {self.version!r}")
        if not isinstance(self.description, str):
            raise SpecError(f"{where}: description must be a string, got {self.description!r}")
        if isinstance(self.columns, str | bytes) or not isinstance(self.columns, Iterable):
            raise SpecError(f"{where}: columns must be a sequence of ColumnSpec, got {self.columns!r}")
        columns = tuple(self.columns)
        not_specs = [c for c in columns if not isinstance(c, ColumnSpec)]
        if not_specs:
            raise SpecError(f"{where}: columns must be ColumnSpec objects, got {not_specs[0]!r}")
        object.__setattr__(self, "columns", columns)
        names = [c.name for c in columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SpecError(f"{where}: duplicate column name(s) {quote_list(repeated)}")
        for key, column_name, role in (
            ("id", self.id_column, "id"),
            ("timestamp", self.time_column, "timestamp"),
        ):
            if column_name not in names:
                raise SpecError(
                    f"{where}: the {key} column {column_name!r} is not among the columns"
                    f"{did_you_mean(str(column_name), names)}; declare it in [[columns]] with "
                    f"role = {role!r}"
                )
            actual = columns[names.index(column_name)].role
            if actual != role:
                raise SpecError(
                    f"{where}: the {key} column {column_name!r} must have role {role!r}, not {actual!r}"
                )
        features = tuple(self.features)
        object.__setattr__(self, "features", features)
        known = set(names)
        for feature in features:
            if not isinstance(feature, DerivedFeature):
                raise SpecError(f"{where}: features must be DerivedFeature objects, got {feature!r}")
            keyed = KINDS[feature.kind].keyed_inputs  # inputs that form a key may cut codes: "hs_code:4"
            keys = [*(feature.inputs if keyed else ()), *(c for lvl in feature.by for c in lvl)]
            keys += [c for c in (feature.key, feature.group) if c]
            for key in keys:
                _, _, cut = key.partition(":")
                if cut and not (cut.isdigit() and int(cut) > 0):
                    raise SpecError(
                        f"{where}: feature {feature.name!r} uses {key!r}; after ':' comes the length of the "
                        "code prefix, a whole number >= 1 (e.g. 'hs_code:4')"
                    )
            referenced = [i.split(":")[0] if keyed else i for i in feature.inputs]
            referenced += [c.split(":")[0] for c in keys if c not in feature.inputs]
            for ref in referenced:
                if ref not in known:
                    raise SpecError(
                        f"{where}: feature {feature.name!r} uses {ref!r}, which is neither a column nor an "
                        f"earlier feature{did_you_mean(ref, known)}"
                    )
                if ref in names and columns[names.index(ref)].role in UNDECLARED_ROLES:
                    raise SpecError(
                        f"{where}: feature {feature.name!r} uses {ref!r}, a {columns[names.index(ref)].role} "
                        "column; features may only use declared columns"
                    )
            if feature.name in known:
                raise SpecError(f"{where}: feature name {feature.name!r} repeats a column or feature name")
            known.add(feature.name)
        if self.labels is not None:
            self._check_labels(where, names, columns)
        if self.policy is not None:
            self._check_policy(where, names, columns)

    def _check_policy(self, where: str, names: list[str], columns: tuple[ColumnSpec, ...]) -> None:
        """Refuse a [policy] rule on a column the spec lacks, or on one a lodged record does not carry."""
        if not isinstance(self.policy, PolicySpec):
            raise SpecError(f"{where}: policy must be a PolicySpec, got {self.policy!r}")
        for position, rule in enumerate(self.policy.rules):
            name = rule["column"]
            at = f"{where}: [[policy.rules]] #{position + 1}"
            if name not in names:
                raise SpecError(
                    f"{at} names column {name!r}, which is not among the columns{did_you_mean(name, names)}; "
                    "declare it in [[columns]] or remove the rule"
                )
            role = columns[names.index(name)].role
            if role in UNDECLARED_ROLES:
                raise SpecError(
                    f"{at} names column {name!r}, {'an' if role[0] in 'aeiou' else 'a'} {role} column that a "
                    "record does not carry when it is lodged; a rule may only test declared columns"
                )
            kind = columns[names.index(name)].type
            if rule["op"] in ORDERING_OPS and kind not in ("int", "float"):
                raise SpecError(
                    f"{at} compares column {name!r} with {rule['op']!r}, but it is a {kind} column; "
                    "ordering operators need a number column (use ==, !=, in or prefix_in for codes)"
                )

    def _check_labels(self, where: str, names: list[str], columns: tuple[ColumnSpec, ...]) -> None:
        """Check that the [labels] columns exist and are never inputs: an outcome must not become a feature."""
        assert self.labels is not None
        for key in ("outcome", "inspected", "propensity", "truth", "revenue", "check"):
            name = getattr(self.labels, key)
            if name is None:
                continue
            if name not in names:
                raise SpecError(
                    f"{where}: [labels] {key} names {name!r}, which is not among the columns"
                    f"{did_you_mean(name, names)}; declare it in [[columns]]"
                )
            role = columns[names.index(name)].role
            if role not in UNDECLARED_ROLES:
                raise SpecError(
                    f"{where}: [labels] {key} column {name!r} has role {role!r}, so it would be a model input; "
                    "give it role 'label' or 'outcome' (or 'truth' for synthetic truth)"
                )

    # -- lookup ---------------------------------------------------------------------------------------

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column `name`.

        Parameters
        ----------
        name : str
            The column name.

        Returns
        -------
        ColumnSpec

        Raises
        ------
        SpecError
            If the spec has no such column; the message suggests close names.
        """
        for col in self.columns:
            if col.name == name:
                return col
        names = [c.name for c in self.columns]
        raise SpecError(
            f"spec {self.name!r} has no column {name!r}{did_you_mean(str(name), names, n=3)}; "
            f"its columns are: {', '.join(names)}"
        )

    def names(self, *, roles: str | Iterable[str] | None = None, declared: bool | None = None) -> list[str]:
        """Return column names in spec order, optionally filtered.

        Parameters
        ----------
        roles : str or iterable of str, optional
            Keep only columns with one of these roles.
        declared : bool, optional
            ``True`` keeps declared columns only, ``False`` the not-declared (truth-like) ones.

        Returns
        -------
        list of str

        Raises
        ------
        SpecError
            If `roles` names an unknown role.
        """
        wanted: set[str] | None = None
        if roles is not None:
            wanted = {roles} if isinstance(roles, str) else set(roles)
            unknown = sorted(wanted - set(ROLES))
            if unknown:
                raise SpecError(f"unknown role(s) {quote_list(unknown)}; allowed roles: {', '.join(ROLES)}")
        return [
            c.name
            for c in self.columns
            if (wanted is None or c.role in wanted) and (declared is None or c.declared == declared)
        ]

    @property
    def declared_columns(self) -> list[str]:
        """Names of the declared columns (what a record carries when it is lodged), in spec order."""
        return self.names(declared=True)

    @property
    def truth_columns(self) -> list[str]:
        """Names of the not-declared columns (roles truth, oracle, outcome, label), in spec order."""
        return self.names(declared=False)

    @property
    def protected_columns(self) -> list[str]:
        """Names of the protected columns (``protected = true`` or role ``protected``), in spec order."""
        return [c.name for c in self.columns if c.protected]

    # -- serialisation --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a plain dict with the layout of the TOML file (``spec`` and ``columns``).

        Returns
        -------
        dict
            ``{"spec": {...}, "columns": [...]}``; ``RecordSpec.from_dict(s.to_dict()) == s``.
        """
        return (
            {
                "spec": {
                    "name": self.name,
                    "version": self.version,
                    "description": self.description,
                    "id": self.id_column,
                    "timestamp": self.time_column,
                },
                "columns": [c.to_dict() for c in self.columns],
            }
            | ({"features": [f.to_dict() for f in self.features]} if self.features else {})
            | ({"labels": self.labels.to_dict()} if self.labels is not None else {})
            | ({"policy": self.policy.to_dict()} if self.policy is not None else {})
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordSpec:
        """Build a spec from the parsed TOML layout (as returned by :meth:`to_dict`).

        Parameters
        ----------
        data : Mapping
            ``{"spec": {...}, "columns": [{...}, ...]}``.

        Returns
        -------
        RecordSpec

        Raises
        ------
        SpecError
            If a key is missing or unknown or a value is invalid.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"a spec must be a table with [spec] and [[columns]], got {type(data).__name__}")
        unknown = [k for k in data if k not in _TOP_LEVEL_KEYS]
        if unknown:
            hints = "".join(did_you_mean(str(k), _TOP_LEVEL_KEYS) for k in unknown)
            raise SpecError(
                f"unknown top-level key(s) {quote_list(unknown)}{hints}; a spec has only [spec], "
                f"[[columns]], [[features]], [labels] and [policy]"
            )
        head = data.get("spec")
        if not isinstance(head, Mapping):
            raise SpecError("the [spec] table is missing; it needs name, version, id and timestamp")
        unknown = [k for k in head if k not in _SPEC_KEYS]
        if unknown:
            hints = "".join(did_you_mean(str(k), _SPEC_KEYS) for k in unknown)
            raise SpecError(
                f"[spec] has unknown key(s) {quote_list(unknown)}{hints}; "
                f"allowed keys: {', '.join(_SPEC_KEYS)}"
            )
        missing = [k for k in _REQUIRED_SPEC_KEYS if k not in head]
        if missing:
            raise SpecError(f"[spec] is missing required key(s) {quote_list(missing)}")
        raw_columns = data.get("columns")
        if not isinstance(raw_columns, list | tuple) or not raw_columns:
            raise SpecError("the spec has no [[columns]]; declare at least the id and timestamp columns")
        columns = []
        for position, item in enumerate(raw_columns):
            try:
                columns.append(ColumnSpec.from_dict(item))
            except SpecError as exc:
                raise SpecError(f"[[columns]] #{position + 1}: {exc}") from exc
            except TypeError as exc:  # pragma: no cover - from_dict checks keys first
                raise SpecError(f"[[columns]] #{position + 1}: {exc}") from exc
        return cls(
            name=head["name"],
            version=head["version"],
            description=head.get("description", ""),
            id_column=head["id"],
            time_column=head["timestamp"],
            columns=tuple(columns),
            features=tuple(DerivedFeature.from_dict(f) for f in data.get("features", ())),
            labels=None if data.get("labels") is None else LabelSpec.from_dict(data["labels"]),
            policy=None if data.get("policy") is None else PolicySpec.from_dict(data["policy"]),
        )

    def to_toml(self, *, notes: Mapping[str, str] | None = None) -> str:
        r"""Write the spec as the TOML text :func:`load_spec` reads, with optional comments.

        Optional column fields at their defaults are left out, so the file reads like a hand-written
        one; ``load_spec`` of the written file equals the spec.

        Parameters
        ----------
        notes : Mapping of str to str, optional
            Comment text by column or feature name (or ``"[spec]"``, ``"[labels]"``, ``"[policy]"`` for
            those tables), written as ``# ...`` lines above the entry: the evidence for an inferred column,
            a reminder to check a value. Several lines are allowed.

        Returns
        -------
        str

        Raises
        ------
        ParameterError
            If a note is keyed by something the spec does not hold.

        Examples
        --------
        >>> spec = load_spec("shipment")
        >>> text = spec.to_toml(notes={"hs_code": "6 digits: code with hierarchy"})
        >>> "# 6 digits: code with hierarchy\n[[columns]]\nname = \"hs_code\"" in text
        True
        >>> RecordSpec.from_dict(tomllib.loads(text)) == spec
        True
        """
        notes = dict(notes or {})
        keys = {c.name for c in self.columns} | {f.name for f in self.features} | set(_SECTION_NOTES)
        stray = [k for k in notes if k not in keys]
        if stray:
            raise ParameterError(
                f"notes for {quote_list(stray)}, which spec {self.name!r} does not hold; key notes by column "
                f"or feature name, or by {', '.join(_SECTION_NOTES)}"
            )
        data = self.to_dict()
        lines = [
            f"# Record spec {self.name!r}: columns, types and roles. Roles truth/oracle/outcome/label are",
            "# never model inputs. Read it with riskscore.load_spec(path).",
        ]

        def entry(header: str, note_key: str, table: Mapping[str, Any]) -> None:
            lines.append("")
            lines.extend(_comment(notes.get(note_key)))
            lines.append(header)
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items())

        entry("[spec]", "[spec]", data["spec"])
        for column in self.columns:
            table = {
                k: v
                for k, v in column.to_dict().items()
                if not (k in _COLUMN_DEFAULTS and v == _COLUMN_DEFAULTS[k])
                and not (k == "protected" and v == (column.role == "protected"))
            }
            entry("[[columns]]", column.name, table)
        for feature in self.features:
            entry("[[features]]", feature.name, feature.to_dict())
        if self.labels is not None:
            entry("[labels]", "[labels]", self.labels.to_dict())
        if self.policy is not None:
            policy = self.policy.to_dict()
            rules = policy.pop("rules", [])
            entry("[policy]", "[policy]", policy)
            for rule in rules:
                entry("[[policy.rules]]", "", rule)
        return "\n".join(lines) + "\n"

    def fingerprint(self) -> str:
        """Return the sha256 hex digest of a canonical JSON rendering of :meth:`to_dict`.

        Equal specs have equal fingerprints; any change to a name, type, role, constraint or description
        changes it. Models store it to detect that they are applied to records of a different spec.

        Returns
        -------
        str
            64 hexadecimal characters.
        """
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------------
# Writing TOML (the standard library reads TOML but does not write it)
# --------------------------------------------------------------------------------------------------------

_SECTION_NOTES = ("[spec]", "[labels]", "[policy]")
# column fields left out of written TOML when at these defaults (protected: when it follows the role)
_COLUMN_DEFAULTS: dict[str, Any] = {"description": "", "nullable": False, "required": True, "open": False}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        # whole numbers as integers (min = 0): the readers turn them back into the same float
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise SpecError(f"cannot write {value!r} ({type(value).__name__}) to TOML")  # pragma: no cover


def _comment(note: str | None) -> list[str]:
    if not note:
        return []
    return [f"# {line}".rstrip() for line in note.splitlines()]


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


def _builtin_dir() -> Any:
    return importlib.resources.files(_BUILTIN_PACKAGE) / _BUILTIN_DIR


def _builtin_names() -> list[str]:
    folder = _builtin_dir()
    try:
        if not folder.is_dir():
            return []
        return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    except OSError:  # pragma: no cover - unreadable package data
        return []


def _parse_toml(text: str, source: str) -> RecordSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: invalid TOML: {exc}") from exc
    try:
        return RecordSpec.from_dict(data)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from exc


@functools.lru_cache(maxsize=None)  # noqa: UP033 - a bounded-size cache by name, on purpose
def _load_builtin(name: str) -> RecordSpec:
    resource = _builtin_dir() / f"{name}.toml"
    if not resource.is_file():
        available = _builtin_names()
        listing = ", ".join(available) if available else "none are installed"
        raise SpecError(
            f"unknown built-in spec {name!r}{did_you_mean(name, available)}; available: {listing}. "
            f"To load your own spec, pass the path of a .toml file"
        )
    return _parse_toml(resource.read_text(encoding="utf-8"), f"built-in spec {name!r} ({resource})")


def _looks_like_name(text: str) -> bool:
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return not any(sep in text for sep in separators) and not text.lower().endswith(".toml")


def load_spec(spec: str | os.PathLike[str] | RecordSpec) -> RecordSpec:
    """Load a record spec.

    Parameters
    ----------
    spec : str, os.PathLike or RecordSpec
        A :class:`RecordSpec` is returned unchanged. A string without a path separator and without a
        ``.toml`` suffix names a built-in spec (``"shipment"``, ``"passenger"``), read from the package's
        ``riskscore/specs/<name>.toml``; built-in loads are cached, so the same object is returned each
        time. Anything else is the path of a TOML file (read afresh on every call).

    Returns
    -------
    RecordSpec

    Raises
    ------
    SpecError
        If the built-in name is unknown (the message lists the available ones), the file does not exist or
        is not valid TOML, or the spec itself is invalid (missing ``[spec]`` keys, unknown type or role,
        duplicate columns, id/timestamp column absent or with the wrong role, ``min > max``...).
    """
    if isinstance(spec, RecordSpec):
        return spec
    if isinstance(spec, str) and _looks_like_name(spec):
        if not spec:
            raise SpecError("load_spec needs a built-in spec name or a path, got an empty string")
        return _load_builtin(spec)
    if not isinstance(spec, str | os.PathLike):
        raise SpecError(f"load_spec needs a name, a path or a RecordSpec, got {type(spec).__name__}")
    path = Path(os.fspath(spec))
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise SpecError(f"spec file '{path}' {reason}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"spec file '{path}' cannot be read: {exc}") from exc
    return _parse_toml(text, f"spec file '{path}'")


def schema_summary(spec: RecordSpec | str | os.PathLike[str]) -> pd.DataFrame:
    """Describe a spec as a table, one row per column, for documentation and notebooks.

    Parameters
    ----------
    spec : RecordSpec, str or os.PathLike
        The spec, or anything :func:`load_spec` accepts.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``type``, ``role``, ``nullable``, ``required``, ``declared``, ``protected``,
        ``allowed`` (bounds, value set and pattern as text; empty when unconstrained) and ``description``,
        in spec order.
    """
    record_spec = load_spec(spec)
    records = []
    for column in record_spec.columns:
        allowed: list[str] = []
        if column.min is not None and column.max is not None:
            allowed.append(f"{fmt_number(column.min)} .. {fmt_number(column.max)}")
        elif column.min is not None:
            allowed.append(f">= {fmt_number(column.min)}")
        elif column.max is not None:
            allowed.append(f"<= {fmt_number(column.max)}")
        if column.values is not None:
            prefix = "e.g. " if column.open else "one of "
            allowed.append(prefix + ", ".join(column.values))
        elif column.open:
            allowed.append("open set")
        if column.pattern is not None:
            allowed.append(f"matches {column.pattern}")
        records.append(
            {
                "name": column.name,
                "type": column.type,
                "role": column.role,
                "nullable": column.nullable,
                "required": column.required,
                "declared": column.declared,
                "protected": column.protected,
                "allowed": "; ".join(allowed),
                "description": column.description,
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "name",
            "type",
            "role",
            "nullable",
            "required",
            "declared",
            "protected",
            "allowed",
            "description",
        ],
    )
