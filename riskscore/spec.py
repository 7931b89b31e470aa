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

import datetime as dt
import difflib
import functools
import hashlib
import importlib.resources
import json
import math
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import pandas as pd
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_complex_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_unsigned_integer_dtype,
)

from riskscore.exceptions import ParameterError, SchemaError, SpecError

__all__ = ["ColumnSpec", "DerivedFeature", "RecordSpec", "load_spec", "schema_summary", "validate_frame"]

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
_TOP_LEVEL_KEYS = ("spec", "columns", "features")

#: Kinds of derived feature a spec may declare in [[features]] (see riskscore.features).
FEATURE_KINDS: dict[str, tuple[int, int]] = {  # kind -> (min inputs, max inputs)
    "log_ratio": (2, 2),
    "ratio": (2, 2),
    "not_equal": (2, 2),
    "reference": (1, 1),
    "group_max_gap": (1, 1),
    "history": (1, 3),
    "calendar": (1, 1),
}
_FEATURE_KEYS = ("name", "kind", "inputs", "by", "key", "group", "windows", "first_seen", "description")
_BUILTIN_PACKAGE = "riskscore"
_BUILTIN_DIR = "specs"
_INT64_LIMIT = 2.0**63
_FLOAT_MAX = sys.float_info.max
_TRUE_STRINGS = ("true", "1")
_FALSE_STRINGS = ("false", "0")


# --------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------


def _quote_list(items: Iterable[object]) -> str:
    return ", ".join(repr(item) for item in items)


def _did_you_mean(word: str, candidates: Iterable[str], n: int = 1) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidates, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    if not matches:
        return ""
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)"


def _fmt_number(value: float) -> str:
    """Format a bound the way a person writes it: ``0`` rather than ``0.0``, ``1e+12`` stays compact."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _show(value: object) -> str:
    """Render one offending value for an error message."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "None"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, pd.Timestamp | datetime | date):
        return repr(str(value))
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


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
                f"{where}: unknown type {self.type!r}{_did_you_mean(str(self.type), COLUMN_TYPES)}; "
                f"allowed types: {', '.join(COLUMN_TYPES)}"
            )
        if self.role not in ROLES:
            raise SpecError(
                f"{where}: unknown role {self.role!r}{_did_you_mean(str(self.role), ROLES)}; "
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
                f"{where}: min ({_fmt_number(self.min)}) is greater than max ({_fmt_number(self.max)})"
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
                raise SpecError(f"{where}: values must be strings, got {_quote_list(bad)}")
            repeated = sorted({v for v in self.values if self.values.count(v) > 1})
            if repeated:
                raise SpecError(f"{where}: values lists {_quote_list(repeated)} more than once")
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
                    f"{where}: unknown normalize step(s) {_quote_list(unknown_steps)}; "
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
            hints = "".join(_did_you_mean(str(k), allowed) for k in unknown)
            raise SpecError(
                f"{label}: unknown key(s) {_quote_list(unknown)}{hints}; allowed keys: {', '.join(allowed)}"
            )
        missing = [k for k in ("name", "type", "role") if k not in data]
        if missing:
            raise SpecError(f"{label}: missing required key(s) {_quote_list(missing)}")
        kwargs = dict(data)
        for key in ("values", "normalize"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


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
        if self.kind not in FEATURE_KINDS:
            raise SpecError(
                f"{where}: unknown kind {self.kind!r}{_did_you_mean(str(self.kind), FEATURE_KINDS)}; "
                f"allowed kinds: {', '.join(FEATURE_KINDS)}"
            )
        object.__setattr__(self, "inputs", tuple(str(i) for i in self.inputs))
        object.__setattr__(self, "by", tuple(tuple(str(c) for c in level) for level in self.by))
        object.__setattr__(self, "windows", tuple(int(w) for w in self.windows))
        lo, hi = FEATURE_KINDS[self.kind]
        if not lo <= len(self.inputs) <= hi:
            raise SpecError(f"{where}: kind {self.kind!r} takes {lo}..{hi} inputs, got {list(self.inputs)}")
        if self.kind == "reference" and not self.by:
            raise SpecError(
                f'{where}: a reference feature needs `by`, e.g. by = [["hs_code"], ["hs_code:4"]]'
            )
        if self.kind == "group_max_gap" and not (self.key and self.group):
            raise SpecError(f"{where}: a group_max_gap feature needs `key` and `group`")
        if any(w < 1 for w in self.windows):
            raise SpecError(f"{where}: windows must be whole days >= 1, got {list(self.windows)}")

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
        if not isinstance(data, Mapping):
            raise SpecError(f"a [[features]] entry must be a table, got {type(data).__name__}")
        unknown = [k for k in data if k not in _FEATURE_KEYS]
        if unknown:
            hints = "".join(_did_you_mean(str(k), _FEATURE_KEYS) for k in unknown)
            raise SpecError(
                f"[[features]] {data.get('name')!r}: unknown key(s) {_quote_list(unknown)}{hints}"
            )
        for required in ("name", "kind", "inputs"):
            if required not in data:
                raise SpecError(f"[[features]] entry is missing {required!r}: {dict(data)!r}")
        return cls(**{k: data[k] for k in data})


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
            raise SpecError(f"{where}: duplicate column name(s) {_quote_list(repeated)}")
        for key, column_name, role in (
            ("id", self.id_column, "id"),
            ("timestamp", self.time_column, "timestamp"),
        ):
            if column_name not in names:
                raise SpecError(
                    f"{where}: the {key} column {column_name!r} is not among the columns"
                    f"{_did_you_mean(str(column_name), names)}; declare it in [[columns]] with "
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
            referenced = list(feature.inputs) + [c.split(":")[0] for lvl in feature.by for c in lvl]
            referenced += [c.split(":")[0] for c in (feature.key, feature.group) if c]
            for ref in referenced:
                if ref not in known:
                    raise SpecError(
                        f"{where}: feature {feature.name!r} uses {ref!r}, which is neither a column nor an "
                        f"earlier feature{_did_you_mean(ref, known)}"
                    )
                if ref in names and columns[names.index(ref)].role in UNDECLARED_ROLES:
                    raise SpecError(
                        f"{where}: feature {feature.name!r} uses {ref!r}, a {columns[names.index(ref)].role} "
                        "column; features may only use declared columns"
                    )
            if feature.name in known:
                raise SpecError(f"{where}: feature name {feature.name!r} repeats a column or feature name")
            known.add(feature.name)

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
            f"spec {self.name!r} has no column {name!r}{_did_you_mean(str(name), names, n=3)}; "
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
                raise SpecError(f"unknown role(s) {_quote_list(unknown)}; allowed roles: {', '.join(ROLES)}")
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
        return {
            "spec": {
                "name": self.name,
                "version": self.version,
                "description": self.description,
                "id": self.id_column,
                "timestamp": self.time_column,
            },
            "columns": [c.to_dict() for c in self.columns],
        } | ({"features": [f.to_dict() for f in self.features]} if self.features else {})

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
            hints = "".join(_did_you_mean(str(k), _TOP_LEVEL_KEYS) for k in unknown)
            raise SpecError(
                f"unknown top-level key(s) {_quote_list(unknown)}{hints}; a spec has only [spec], "
                f"[[columns]] and [[features]]"
            )
        head = data.get("spec")
        if not isinstance(head, Mapping):
            raise SpecError("the [spec] table is missing; it needs name, version, id and timestamp")
        unknown = [k for k in head if k not in _SPEC_KEYS]
        if unknown:
            hints = "".join(_did_you_mean(str(k), _SPEC_KEYS) for k in unknown)
            raise SpecError(
                f"[spec] has unknown key(s) {_quote_list(unknown)}{hints}; "
                f"allowed keys: {', '.join(_SPEC_KEYS)}"
            )
        missing = [k for k in _REQUIRED_SPEC_KEYS if k not in head]
        if missing:
            raise SpecError(f"[spec] is missing required key(s) {_quote_list(missing)}")
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
        )

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
            f"unknown built-in spec {name!r}{_did_you_mean(name, available)}; available: {listing}. "
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


# --------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------


class _Rows:
    """Describes rows of the input frame for error messages: position, index label, record id."""

    def __init__(self, frame: pd.DataFrame, spec: RecordSpec) -> None:
        index = frame.index
        self.index = index
        self.show_index = not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1)
        self.id_name = spec.id_column
        self.ids: pd.Series | None = frame[spec.id_column] if spec.id_column in frame.columns else None

    def describe(self, position: int) -> str:
        parts = []
        if self.show_index:
            parts.append(f"index {_show(self.index[position])}")
        if self.ids is not None:
            record_id = self.ids.iloc[position]
            if not pd.isna(record_id):
                parts.append(f"{self.id_name} {_show(record_id)}")
        return f"row {position}" + (f" ({', '.join(parts)})" if parts else "")


class _Column:
    """One column under validation: its spec, its raw values and the context to report a bad row."""

    def __init__(self, spec: ColumnSpec, raw: pd.Series, rows: _Rows) -> None:
        self.spec = spec
        self.raw = raw
        self.rows = rows
        self.missing: np.ndarray = raw.isna().to_numpy(dtype=bool)

    def fail(self, expected: str, bad: np.ndarray, fix: str, *, found: str | None = None) -> NoReturn:
        """Raise a SchemaError about the first row flagged in `bad`."""
        flagged = np.flatnonzero(bad)
        position = int(flagged[0])
        if found is None:
            found = f"has {_show(self.raw.iloc[position])}"
        more = len(flagged) - 1
        others = f" ({more} more row{'s' if more > 1 else ''} fail the same way)" if more else ""
        spec = self.spec
        raise SchemaError(
            f"column {spec.name!r} must {expected}; {self.rows.describe(position)} {found}{others}. {fix} "
            f"(the column's spec: {spec.type}, role {spec.role})"
        )

    def check_not_missing(self) -> None:
        if not self.spec.nullable and self.missing.any():
            self.fail(
                "not be missing",
                self.missing,
                "Fill the value or drop the row, or set nullable = true in the spec.",
                found="is missing (NaN/None/NaT)",
            )


_FIX_VALUE = "Fix the value or drop the row."


_NOT_AMOUNT = (complex, np.complexfloating, bool, np.bool_, bytes, bytearray, memoryview)


def _numbers(col: _Column) -> tuple[np.ndarray, np.ndarray]:
    """Return (values, not_a_number): int64 values when the source is integer without gaps, else float64."""
    raw, missing = col.raw, col.missing
    dtype = raw.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        raw = raw.astype(object)
        dtype = raw.dtype
    if is_bool_dtype(dtype):  # true/false is a flag, not an amount: refused as in the one-record path
        return np.full(len(raw), np.nan), ~missing
    if is_integer_dtype(dtype):
        if missing.any():
            return raw.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(raw), dtype=bool)
        if is_unsigned_integer_dtype(dtype) and len(raw) and raw.max() >= _INT64_LIMIT:
            return raw.to_numpy(dtype="float64"), np.zeros(len(raw), dtype=bool)
        return raw.to_numpy(dtype="int64"), np.zeros(len(raw), dtype=bool)
    if is_complex_dtype(dtype):  # complex numbers are not amounts: refuse rather than drop the imaginary part
        return np.full(len(raw), np.nan), ~missing
    if is_numeric_dtype(dtype):
        return raw.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(raw), dtype=bool)
    if is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        if is_object_dtype(dtype):
            # complex numbers, booleans and bytes are not amounts (pandas would read True as 1 and b"12" as
            # 12): parsed as NaN below, then refused by name
            not_amount = np.fromiter(
                (isinstance(v, _NOT_AMOUNT) for v in raw.to_numpy(dtype=object)), dtype=bool, count=len(raw)
            )
            if not_amount.any():
                raw = raw.where(~not_amount, "not a number")
            # Python ints beyond float range (pd.to_numeric raises OverflowError on them): +/-inf, which
            # the caller refuses by name as not finite
            huge = np.fromiter(
                (isinstance(v, int) and abs(v) > _FLOAT_MAX for v in raw.to_numpy(dtype=object)),
                dtype=bool,
                count=len(raw),
            )
            if huge.any():
                objects = raw.to_numpy(dtype=object)
                signed = [
                    (math.inf if v > 0 else -math.inf) if h else v for v, h in zip(objects, huge, strict=True)
                ]
                raw = pd.Series(signed, index=raw.index, dtype=object)
        parsed = pd.to_numeric(raw, errors="coerce")
        if is_integer_dtype(parsed.dtype) and not is_unsigned_integer_dtype(parsed.dtype):
            values = parsed.to_numpy(dtype="int64")
            return values, np.zeros(len(raw), dtype=bool)
        values = parsed.to_numpy(dtype="float64", na_value=np.nan)
        return values, np.isnan(values) & ~missing
    # datetimes, timedeltas, periods, intervals...: not numbers
    return np.full(len(raw), np.nan), ~missing


def _check_bounds(col: _Column, values: np.ndarray, word: str) -> None:
    spec = col.spec
    if spec.min is not None:
        below = values < spec.min
        if below.any():
            col.fail(f"be {word} >= {_fmt_number(spec.min)}", below, _FIX_VALUE)
    if spec.max is not None:
        above = values > spec.max
        if above.any():
            col.fail(f"be {word} <= {_fmt_number(spec.max)}", above, _FIX_VALUE)


def _coerce_float(col: _Column, check: bool) -> pd.Series:
    values, bad = _numbers(col)
    if bad.any():
        col.fail("be a number", bad, _FIX_VALUE)
    values = values.astype("float64", copy=False)
    if check:
        col.check_not_missing()
        infinite = np.isinf(values)
        if infinite.any():
            col.fail("be a finite number", infinite, _FIX_VALUE)
        _check_bounds(col, values, "a number")
    return pd.Series(values, index=col.raw.index, name=col.spec.name, dtype="float64", copy=True)


def _coerce_int(col: _Column, check: bool) -> pd.Series:
    values, bad = _numbers(col)
    if bad.any():
        col.fail("be a whole number", bad, _FIX_VALUE)
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            not_whole = ~col.missing & ((values != np.floor(values)) | (np.abs(values) >= _INT64_LIMIT))
        if not_whole.any():
            col.fail("be a whole number (int64)", not_whole, _FIX_VALUE)
    if check:
        col.check_not_missing()
        _check_bounds(col, values, "a whole number")
    if col.missing.any():
        return pd.Series(values, index=col.raw.index, name=col.spec.name, dtype="float64", copy=True)
    return pd.Series(values, index=col.raw.index, name=col.spec.name, dtype="int64", copy=True)


def _bool_token(value: object) -> float:
    """Map one object to 1.0/0.0, NaN when missing, -1.0 when it is not a boolean."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return np.nan
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value) if value in (0, 1) else -1.0
    if isinstance(value, str):
        text = value.strip().lower()
        return 1.0 if text in _TRUE_STRINGS else 0.0 if text in _FALSE_STRINGS else -1.0
    return -1.0


def _bool_codes(raw: pd.Series, missing: np.ndarray) -> np.ndarray:
    """Return float codes: 1.0 true, 0.0 false, NaN missing, -1.0 not a boolean."""
    dtype = raw.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _bool_codes(raw.astype(object), missing)
    if is_bool_dtype(dtype) or is_numeric_dtype(dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(missing | (values == 0) | (values == 1), values, -1.0)
    if isinstance(dtype, pd.StringDtype) or (
        is_object_dtype(dtype) and infer_dtype(raw, skipna=True) == "string"
    ):
        text = raw.astype("str").str.strip().str.lower()
        codes = np.where(text.isin(_TRUE_STRINGS), 1.0, np.where(text.isin(_FALSE_STRINGS), 0.0, -1.0))
        codes[missing] = np.nan
        return codes
    if is_object_dtype(dtype):
        kind = infer_dtype(raw, skipna=True)
        if kind == "boolean":
            return raw.astype("boolean").to_numpy(dtype="float64", na_value=np.nan)
        if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            return np.where(missing | (values == 0) | (values == 1), values, -1.0)
        if kind == "empty":
            return np.full(len(raw), np.nan)
        # A genuinely mixed object column: classify element by element (rare; costs a Python call per row).
        return raw.map(_bool_token).to_numpy(dtype="float64", na_value=np.nan)
    codes = np.full(len(raw), -1.0)
    codes[missing] = np.nan
    return codes


def _coerce_bool(col: _Column, check: bool) -> pd.Series:
    codes = _bool_codes(col.raw, col.missing)
    bad = codes == -1.0
    if bad.any():
        col.fail("be true or false (a bool, 0/1, or the strings 'true'/'false'/'1'/'0')", bad, _FIX_VALUE)
    if check:
        col.check_not_missing()
    index, name = col.raw.index, col.spec.name
    if col.missing.any():
        array = pd.array(np.nan_to_num(codes) == 1.0, dtype="boolean")
        array[col.missing] = pd.NA
        return pd.Series(array, index=index, name=name, copy=False)
    return pd.Series(codes == 1.0, index=index, name=name, dtype=bool, copy=True)


def _is_text_value(value: object) -> bool:
    """Whether a value can stand in a text column: a string, or a number written as one (an id 29)."""
    if isinstance(value, str):
        return True
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _render(value: object) -> str:
    """One value as text, decided by the value alone (never by its batch): integral floats as ``'12'``."""
    if isinstance(value, str):
        return value
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number) and number == math.floor(number):
            return str(int(number))
    return str(value)


def _as_str(raw: pd.Series) -> tuple[pd.Series, np.ndarray | None]:
    """Convert to pandas' default string dtype, value by value; return it and the rows that are not text.

    Integral floats become ``'12'``, never ``'12.0'``, whether they come alone, in a float column or beside
    strings, so a record's id or code never depends on the other records of its batch. Booleans, bytes,
    dates and containers are not text (their text would be a Python repr): they are flagged, not converted.
    """
    dtype = raw.dtype
    missing = raw.isna().to_numpy(dtype=bool)
    if isinstance(dtype, pd.StringDtype) or (is_integer_dtype(dtype) and not is_bool_dtype(dtype)):
        return raw.astype("str"), None
    if is_float_dtype(dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(values) & (values == np.floor(values))
        if not integral.any():
            return raw.astype("str"), None
        text = raw.astype("str").to_numpy(dtype=object)
        small = integral & (np.abs(np.where(integral, values, 0.0)) < _INT64_LIMIT)
        text[small] = values[small].astype(np.int64).astype(str).astype(object)
        for i in np.flatnonzero(integral & ~small):
            text[i] = str(int(values[i]))
        return pd.Series(text, index=raw.index, dtype="str"), None
    if is_object_dtype(dtype):
        if infer_dtype(raw, skipna=True) in ("string", "empty"):
            return raw.astype("str"), None
        objects = raw.to_numpy(dtype=object)
        bad = ~missing & np.fromiter((not _is_text_value(v) for v in objects), dtype=bool, count=len(objects))
        text = np.array(
            [np.nan if m or b else _render(v) for v, m, b in zip(objects, missing, bad, strict=True)],
            dtype=object,
        )
        return pd.Series(text, index=raw.index, dtype="str"), (bad if bad.any() else None)
    # booleans, dates, durations, complex numbers: not text, whatever their batch
    empty = pd.Series(np.nan, index=raw.index, dtype="str")
    return empty, (~missing if (~missing).any() else None)


def _normalized(spec: ColumnSpec, text: pd.Series) -> pd.Series:
    """Apply the column's ``normalize`` steps (strip, upper, lower) to a str-dtype series."""
    for step in spec.normalize or ():
        text = (
            text.str.strip() if step == "strip" else text.str.upper() if step == "upper" else text.str.lower()
        )
    return text


def _text(col: _Column) -> pd.Series:
    """Return the column as normalised text (str dtype); refuse values that are not text, by name."""
    _check_utf8(col)
    text, bad = _as_str(col.raw)
    if bad is not None:
        col.fail(
            "hold text (a string, or a number written as one)",
            bad,
            "Send the value as a string (decode bytes first; flags, dates, lists and dicts are not codes).",
        )
    return _normalized(col.spec, text)


def _text_verdicts(spec: ColumnSpec, text: pd.Series) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return (in_values, matches_pattern) for each element of a str-dtype series; None when unchecked."""
    in_values = None
    if spec.values is not None and not spec.open:
        in_values = text.isin(list(spec.values)).to_numpy(dtype=bool)
    matches = None
    if spec.pattern is not None:
        matches = text.str.fullmatch(spec.pattern).to_numpy(dtype=bool, na_value=False)
    return in_values, matches


def _fail_text(col: _Column, in_values: np.ndarray | None, matches: np.ndarray | None) -> None:
    """Raise on the first row outside `values` or not matching `pattern` (row-level verdicts)."""
    spec = col.spec
    present = ~col.missing
    if in_values is not None:
        outside = present & ~in_values
        if outside.any():
            col.fail(
                f"be one of {_quote_list(spec.values or ())}",
                outside,
                "Fix the value or drop the row, or add it to `values` in the spec (or set open = true).",
            )
    if matches is not None:
        mismatch = present & ~matches
        if mismatch.any():
            col.fail(f"match the pattern {spec.pattern!r}", mismatch, _FIX_VALUE)


def _utf8_ok(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_utf8(col: _Column) -> None:
    """Refuse text that cannot be stored as UTF-8 (lone surrogates from broken decoding upstream)."""
    raw = col.raw
    values = raw.cat.categories if isinstance(raw.dtype, pd.CategoricalDtype) else raw
    if values.dtype != object:
        return  # numbers, or pandas' own string dtype, which is UTF-8 already
    if isinstance(raw.dtype, pd.CategoricalDtype):
        bad_cat = np.fromiter((not _utf8_ok(v) for v in values), dtype=bool, count=len(values))
        if not bad_cat.any():
            return
        bad = np.append(bad_cat, False)[raw.cat.codes.to_numpy()]
    else:
        # element by element: values may be unhashable (a list where text belongs is refused later)
        bad = np.fromiter((not _utf8_ok(v) for v in raw.to_numpy(dtype=object)), dtype=bool, count=len(raw))
    if bad.any():
        col.fail(
            "be valid UTF-8 text",
            bad,
            "Decode the source text correctly (it holds a lone surrogate such as '\\ud800').",
            found="has text that is not valid Unicode",
        )


def _coerce_string(col: _Column, check: bool) -> pd.Series:
    text = _text(col).rename(col.spec.name)
    if check:
        col.check_not_missing()
        _fail_text(col, *_text_verdicts(col.spec, text))
    return text


def _sorted_categorical(col: _Column) -> pd.Categorical[Any]:
    """Categorical of the observed values as (normalised) text, categories sorted (not the spec's order)."""
    raw = col.raw
    if isinstance(raw.dtype, pd.CategoricalDtype):
        # Work on the (few) categories rather than the (many) rows.
        used = raw.cat.remove_unused_categories()
        labels, bad = _as_str(pd.Series(used.cat.categories))
        labels = _normalized(col.spec, labels)
        if bad is None and labels.is_unique and not labels.isna().any():
            label_values = labels.to_numpy(dtype=object)
            order = np.argsort(label_values, kind="stable")
            codes = used.cat.codes.to_numpy()
            remap = np.empty(len(order) + 1, dtype=np.int64)
            remap[order] = np.arange(len(order))
            remap[-1] = -1  # code -1 (missing) indexes the last slot
            categories = pd.Index(label_values[order], dtype="str")
            return pd.Categorical.from_codes(remap[codes], dtype=pd.CategoricalDtype(categories))
    return pd.Categorical(_text(col))


def _coerce_category(col: _Column, check: bool) -> pd.Series:
    _check_utf8(col)
    result = pd.Series(_sorted_categorical(col), index=col.raw.index, name=col.spec.name)
    if check:
        col.check_not_missing()
        # Check each category once, then map the verdicts back to the rows (code -1 -> True sentinel).
        categories = pd.Series(result.cat.categories, dtype="str")
        codes = result.cat.codes.to_numpy()
        verdicts = [
            None if v is None else np.append(v, True)[codes] for v in _text_verdicts(col.spec, categories)
        ]
        _fail_text(col, verdicts[0], verdicts[1])
    return result


#: Words pandas would turn into the clock's time: a record's time must be its own, never the moment of scoring.
_RELATIVE_TIMES = frozenset({"now", "today", "yesterday", "tomorrow"})

_TIME_EXPECTED = "be a date/time in ISO 8601 (such as '2024-03-01T14:30:00' or '2024-03-01')"
_TIME_FIX = (
    "Fix the value or drop the row; for another layout set `format` for the column in the spec "
    "(e.g. format = '%d/%m/%Y %H:%M'): day and month are never guessed."
)


def _parse_datetimes(col: _Column, source: pd.Series) -> pd.Series:
    """Parse text or date objects as UTC-aware datetimes, value by value.

    Text must be ISO 8601, or follow the column's ``format`` when the spec sets one: a per-value format
    guess would read ``02/01/2025`` as 2 January or 1 February depending on the other values.
    """
    text = source.astype(object).where(~col.missing)
    words = np.fromiter(
        (isinstance(v, str) and v.strip().lower() in _RELATIVE_TIMES for v in text.to_numpy(dtype=object)),
        dtype=bool,
        count=len(text),
    )
    if words.any():
        col.fail(
            "be a date/time of the record itself",
            words,
            "Relative words are refused because they would score the record at the moment of scoring; "
            "send the time the record carries, in ISO 8601.",
        )
    layout = col.spec.format or "ISO8601"
    return pd.to_datetime(source, errors="coerce", utc=True, format=layout)


def _coerce_datetime(col: _Column, check: bool) -> pd.Series:
    raw, missing = col.raw, col.missing
    dtype = raw.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        parsed = raw.dt.tz_convert("UTC").dt.tz_localize(None)
    elif is_datetime64_any_dtype(dtype):
        parsed = raw
    elif is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        source = raw.astype(object) if isinstance(dtype, pd.CategoricalDtype) else raw
        if is_object_dtype(source.dtype):
            # numbers mixed into a time column are refused before parsing (epochs are ambiguous)
            values = source.to_numpy(dtype=object)
            not_time = (
                np.fromiter(
                    (not isinstance(v, str | dt.date | np.datetime64) for v in values),
                    dtype=bool,
                    count=len(values),
                )
                & ~missing
            )
            if not_time.any():
                col.fail(_TIME_EXPECTED, not_time, "Epoch numbers are ambiguous: " + _TIME_FIX)
        parsed = _parse_datetimes(col, source).dt.tz_localize(None)
    else:  # numbers, booleans, timedeltas...: not dates (epoch numbers are ambiguous, so refuse them)
        parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    unparsed = parsed.isna().to_numpy(dtype=bool) & ~missing
    if unparsed.any():
        col.fail(
            _TIME_EXPECTED
            if col.spec.format is None
            else f"be a date/time in the layout {col.spec.format!r}",
            unparsed,
            _TIME_FIX,
        )
    out_of_range = ((parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)).to_numpy(dtype=bool)
    if out_of_range.any():
        col.fail(
            f"be a date/time between {pd.Timestamp.min.date()} and {pd.Timestamp.max.date()}",
            out_of_range,
            _FIX_VALUE,
        )
    if check:
        col.check_not_missing()
    return pd.Series(parsed.astype("datetime64[ns]").to_numpy(), index=raw.index, name=col.spec.name)


_COERCERS = {
    "string": _coerce_string,
    "category": _coerce_category,
    "int": _coerce_int,
    "float": _coerce_float,
    "bool": _coerce_bool,
    "datetime": _coerce_datetime,
}


def _required(column: ColumnSpec, mode: str) -> bool:
    if mode == "all":
        return column.required or not column.nullable
    return column.declared and column.required


def _missing_columns_message(spec: RecordSpec, missing: list[str], extras: list[str], mode: str) -> str:
    labels = [str(c) for c in extras]
    parts = [f"{name!r}{_did_you_mean(name, labels)}" for name in missing]
    message = (
        f"the frame lacks {len(missing)} column{'s' if len(missing) > 1 else ''} required by spec "
        f"{spec.name!r} (version {spec.version}): {', '.join(parts)}. Add or rename the column(s)"
    )
    if mode == "all" and any(not spec.column(n).declared for n in missing):
        message += "; columns='all' also requires the truth columns, use columns='declared' to score records"
    return message + "."


def validate_frame(
    frame: pd.DataFrame,
    spec: RecordSpec | str | os.PathLike[str],
    *,
    columns: Literal["declared", "all"] = "declared",
    extra: Literal["keep", "drop", "error"] = "keep",
    check_ids: bool = True,
) -> pd.DataFrame:
    """Check a frame against a record spec and return a copy with canonical dtypes.

    Parameters
    ----------
    frame : pandas.DataFrame
        The records. It is never modified.
    spec : RecordSpec, str or os.PathLike
        The spec, or anything :func:`load_spec` accepts.
    columns : {"declared", "all"}, default "declared"
        ``"declared"`` (scoring): only declared columns with ``required = true`` must be present and only
        declared columns are checked; not-declared (truth) columns that are present are still coerced to
        their dtype and kept, without value checks. ``"all"`` (generated or historical data): every column
        with ``required = true`` and every non-nullable column must be present, and every column is checked.
    extra : {"keep", "drop", "error"}, default "keep"
        What to do with columns the spec does not know: keep them (after the spec's columns, in their input
        order, unchanged), drop them, or raise.
    check_ids : bool, default True
        Raise if the id column holds a value twice (missing ids are not compared).

    Returns
    -------
    pandas.DataFrame
        A new frame with the input's index: the spec's columns that are present, in spec order, then the
        extra columns if ``extra="keep"``. Canonical dtypes:

        - ``string``: pandas' default string dtype ``"str"`` (``StringDtype(na_value=nan)``); integral
          floats render as ``"12"``, not ``"12.0"``.
        - ``category``: ``category`` whose categories are the observed values as strings, sorted (the
          spec's ``values`` order is not imposed; unused categories are dropped).
        - ``int``: ``int64``; a nullable column that has missing values becomes ``float64`` (integers above
          2**53 then lose precision).
        - ``float``: ``float64``.
        - ``bool``: ``bool``; a nullable column that has missing values becomes pandas ``"boolean"``.
          Accepted inputs: booleans, 0/1 numbers and the strings ``"true"``/``"false"`` (any case).
        - ``datetime``: naive ``datetime64[ns]``; tz-aware values are converted to UTC, then made naive.
          Text is parsed as ISO 8601 first, then with pandas' per-element format inference. Numbers are
          refused (epoch units are ambiguous).

    Raises
    ------
    SchemaError
        With a message naming the column, the expectation, the first offending row (its 0-based position,
        its index label when the index is not the default one, and its record id when the id column is
        present), the value found and how to fix it. Raised when: required columns are missing (all are
        listed, with close names suggested); a column label repeats; a value cannot be coerced to the
        column's type; a non-nullable column holds NaN/None/NaT; a numeric column holds +/-inf; a value is
        below ``min`` or above ``max``; a value is outside a closed ``values`` set or does not match
        ``pattern``; a date cannot be parsed; an id repeats (both rows are named); ``extra="error"`` and
        the frame has unexpected columns. Type errors (values that cannot be coerced) are raised for
        not-declared columns too, since the column cannot be given its dtype otherwise.
    TypeError
        If `frame` is not a DataFrame.
    ParameterError
        If `columns` or `extra` is not one of the allowed strings (a ``ValueError``).

    Notes
    -----
    Checks are vectorised; Python-level work is per column, per category, or for formatting the first bad
    row. Only a bool column of mixed Python objects is classified element by element.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"validate_frame needs a pandas DataFrame, got {type(frame).__name__}")
    if columns not in ("declared", "all"):
        raise ParameterError(f"columns must be 'declared' or 'all', got {columns!r}")
    if extra not in ("keep", "drop", "error"):
        raise ParameterError(f"extra must be 'keep', 'drop' or 'error', got {extra!r}")
    record_spec = load_spec(spec)

    labels = list(frame.columns)
    repeated = sorted({str(c) for c, dup in zip(labels, frame.columns.duplicated(), strict=True) if dup})
    if repeated:
        raise SchemaError(
            f"the frame has repeated column label(s) {_quote_list(repeated)}; rename or drop the copies"
        )
    known = set(record_spec.names())
    present = set(labels)
    extras = [c for c in labels if c not in known]
    missing = [c.name for c in record_spec.columns if _required(c, columns) and c.name not in present]
    if missing:
        raise SchemaError(_missing_columns_message(record_spec, missing, extras, columns))
    if extra == "error" and extras:
        raise SchemaError(
            f"the frame has column(s) that spec {record_spec.name!r} does not know: {_quote_list(extras)}. "
            f"Drop them, or pass extra='keep' or extra='drop'."
        )

    rows = _Rows(frame, record_spec)
    out: list[pd.Series] = []
    for column in record_spec.columns:
        if column.name not in present:
            continue
        state = _Column(column, frame[column.name], rows)
        check = columns == "all" or column.declared
        out.append(_COERCERS[column.type](state, check))

    if check_ids and record_spec.id_column in present:
        _check_unique_ids(next(s for s in out if s.name == record_spec.id_column), rows)

    if extra == "keep":
        out.extend(frame[c] for c in extras)  # copy-on-write: the input stays untouched
    if not out:
        return pd.DataFrame(index=frame.index.copy())
    return pd.concat(out, axis=1)


def _check_unique_ids(ids: pd.Series, rows: _Rows) -> None:
    present = ids.notna().to_numpy(dtype=bool)
    repeats = ids.duplicated(keep="first").to_numpy(dtype=bool) & present
    if not repeats.any():
        return
    flagged = np.flatnonzero(repeats)
    position = int(flagged[0])
    first = int(np.flatnonzero((ids == ids.iloc[position]).to_numpy(dtype=bool))[0])
    more = len(flagged) - 1
    others = f" ({more} more repeated row{'s' if more > 1 else ''})" if more else ""
    raise SchemaError(
        f"column {rows.id_name!r} must hold unique ids; {rows.describe(position)} repeats the id of "
        f"{rows.describe(first)}{others}. Remove the duplicate rows, or pass check_ids=False."
    )


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
            allowed.append(f"{_fmt_number(column.min)} .. {_fmt_number(column.max)}")
        elif column.min is not None:
            allowed.append(f">= {_fmt_number(column.min)}")
        elif column.max is not None:
            allowed.append(f"<= {_fmt_number(column.max)}")
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
