"""Spec inference: propose a record spec for an administration's own table of declarations.

A customs administration keeps years of declarations in its own layout: its column names (with spaces, in
its language), its code lists, a 0/1 or 0/1/2 inspection finding. Writing the spec of a 20-column table by
hand is 200 lines of TOML; :func:`infer_spec` writes it from the data and says, for every column and
feature, why (the *notes*, written as comments by :meth:`~riskscore.spec.RecordSpec.to_toml`).

The proposal is a starting point that validates the table it was inferred from and trains as it stands;
a person should still read it (closed value lists, bounds and roles are guesses from one sample of history).

>>> import pandas as pd
>>> from riskscore.infer import infer_spec_with_notes
>>> table = pd.DataFrame({"no": ["A1", "A2", "A3"], "date": ["01/02/2025", "02/02/2025", "13/02/2025"],
...                       "value usd": [10.5, 20.0, 7.25]})
>>> spec, notes = infer_spec_with_notes(table, id="no", timestamp="date")
>>> spec.column("date").format, spec.column("value usd").role
('%d/%m/%Y', 'amount')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_integer_dtype,
    is_numeric_dtype,
)

from riskscore._fmt import did_you_mean, fmt_number
from riskscore.exceptions import SchemaError, SpecError
from riskscore.spec import ColumnSpec, DerivedFeature, LabelSpec, RecordSpec, outcome_text

__all__ = ["infer_spec", "infer_spec_with_notes"]

#: Text time layouts tried when a time column is not ISO 8601. Day-first comes before month-first: when
#: every value fits both (all days <= 12), day-first is proposed and the note says so.
TIME_LAYOUTS: tuple[str, ...] = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M",
    "%Y%m%d",  # ISO 8601's basic form, read without a format: listed for the record
)

MAX_CLOSED = 30  # a text column with at most this many values gets a closed `values` list
MAX_CATEGORY = 200  # ... and with at most this many, an open category; above, an entity or free text
MIN_ENTITY = 50  # an entity (importer, broker) has more distinct values than this, re-used over time
CODE_MIN_DIGITS = 4  # digit codes of a constant length >= 4 are codes with a hierarchy (HS)
_SAMPLE = 500  # values tried against every time layout before the chosen one is checked on all

# Name hints, matched on the words of a column name without accents ("Trọng lượng" -> "trong luong").
# A hint of several words matches those words in a row; a one-word hint of 5 letters or more also
# matches as the start of a word ("birthdate", "nationalite").
_PROTECTED = (
    "sex", "gender", "age", "birth", "dob", "nationalit", "citizen", "religio", "ethnic", "race",
    "gioi tinh", "quoc tich", "tuoi", "ngay sinh", "nam sinh", "ton giao", "dan toc",
    "sexe", "naissance", "sexo", "edad", "nacionalidad",
)  # fmt: skip
_RATE = ("rate", "pct", "percent", "percentage", "ratio", "suat", "ty le", "taux", "tasa")
_WEIGHT = ("weight", "kg", "kgs", "mass", "trong luong", "khoi luong", "poids", "peso")
_QUANTITY = ("qty", "quantity", "units", "so luong", "quantite", "cantidad")
_DURATION = ("days", "day", "ngay", "age", "jours", "dias", "hours", "gio")
_COUNT = ("count", "number", "n", "num", "nb", "packages", "kien", "so kien")
_AMOUNT = (
    "value", "price", "usd", "vnd", "eur", "amount", "cif", "fob", "tax", "duty", "freight", "insurance",
    "cost", "tri gia", "gia", "thue", "phi", "valeur", "prix", "valor", "precio",
)  # fmt: skip
_PARTY = (
    "importer", "exporter", "broker", "declarant", "agent", "company", "enterprise", "trader", "consignee",
    "consignor", "shipper", "firm", "operator", "taxpayer", "tin", "eori", "doanh nghiep", "dai ly",
    "cong ty", "mst", "ma so thue", "nguoi", "importateur", "declarant", "importador",
)  # fmt: skip
_CODE = ("hs", "tariff", "commodity", "cn", "hts", "ma hs", "nomenclature")
_DEPARTURE = (
    "departure", "export", "exporting", "loading", "dispatch", "consignment", "nuoc xuat", "xuat khau",
    "cang xep", "provenance",
)  # fmt: skip
_ORIGIN = ("origin", "country", "xuat xu", "nuoc", "pays", "pais")
_CHANNEL_WORDS = ("green", "yellow", "red")


def _words(name: str) -> list[str]:
    """Return the words of a column name: accents removed (đ -> d), lower case, split at anything not a letter."""
    text = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return [w for w in re.split(r"[^a-z0-9]+", text) if w]


def _hint(name: str, hints: Sequence[str]) -> str | None:
    """Return the first hint the column name holds (see the comment above the hint lists), or None."""
    words = _words(name)
    for hint in hints:
        parts = hint.split()
        if len(parts) > 1:
            if any(words[i : i + len(parts)] == parts for i in range(len(words) - len(parts) + 1)):
                return hint
        elif any(w == hint or (len(hint) >= 5 and w.startswith(hint)) for w in words):
            return hint
    return None


def _slug(name: str) -> str:
    """Make a feature name from a column name: ``"ma doanh nghiep"`` -> ``"ma_doanh_nghiep"``."""
    slug = "_".join(_words(name)) or "col"
    return slug if slug[0].isalpha() else f"c_{slug}"


def _label(name: str) -> str:
    text = " ".join(name.replace("_", " ").split())
    return text[:1].upper() + text[1:] if text else name


def _rows(mask: np.ndarray) -> str:
    """``rows 3, 17 and 41`` / ``rows 3, 17, 41, 56, 90 and 12 more`` (0-based positions)."""
    positions = np.flatnonzero(mask)
    shown = ", ".join(str(int(p)) for p in positions[:5])
    more = len(positions) - 5
    if more > 0:
        return f"rows {shown} and {more:,} more"
    return f"row {shown}" if len(positions) == 1 else f"rows {shown}"


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------------------------------------
# Profiling one column
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Profile:
    """What one column holds, independent of its name."""

    name: str
    kind: str  # "empty", "bool", "int", "float", "datetime", "text"
    missing: np.ndarray
    text: pd.Series | None = None  # non-missing values as stripped text (kind "text"), by position
    numbers: np.ndarray | None = None  # non-missing values as float64 (kinds "int", "float", "bool")
    distinct: int = 0

    @property
    def n_missing(self) -> int:
        return int(self.missing.sum())


def _as_text(series: pd.Series) -> pd.Series:
    """Values as text, value by value (integral floats as ``'12'``, as the validation renders them)."""

    def render(value: object) -> str:
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value)

    if isinstance(series.dtype, pd.StringDtype) or series.map(lambda v: isinstance(v, str)).all():
        return series.astype(str)
    return series.map(render).astype(str)


_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")


def _profile(name: str, raw: pd.Series) -> _Profile:
    missing = raw.isna().to_numpy(dtype=bool)
    present = raw[~missing]
    if not len(present):
        return _Profile(name, "empty", missing)
    dtype = raw.dtype
    if is_bool_dtype(dtype):
        values = present.astype(bool).to_numpy(dtype=np.float64)
        return _Profile(name, "bool", missing, numbers=values, distinct=len(set(values)))
    if is_datetime64_any_dtype(dtype):
        return _Profile(name, "datetime", missing, distinct=int(present.nunique()))
    if is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        values = present.to_numpy(dtype=np.float64)
        distinct = len(np.unique(values))
        if set(np.unique(values)) <= {0.0, 1.0}:
            return _Profile(name, "bool", missing, numbers=values, distinct=distinct)
        kind = "int" if is_integer_dtype(dtype) else "float"
        return _Profile(name, kind, missing, numbers=values, distinct=distinct)
    if isinstance(dtype, pd.CategoricalDtype):
        present = present.astype(object)
    text = _as_text(present).str.strip()
    distinct = int(text.nunique())
    lowered = set(text.str.lower().unique())
    if lowered <= {"true", "false"} or lowered <= {"0", "1"}:
        numbers = text.str.lower().isin(["true", "1"]).to_numpy(dtype=np.float64)
        return _Profile(name, "bool", missing, numbers=numbers, distinct=distinct)
    integer = text.str.fullmatch(_INT_TEXT).to_numpy(dtype=bool)
    leading_zero = (text.str.len() > 1) & text.str.startswith("0")
    if integer.all() and leading_zero.any():
        return _Profile(name, "text", missing, text=text, distinct=distinct)  # a code: "080510" stays text
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isnan(numbers).any() and np.isfinite(numbers).all():
        if integer.all() and _fixed_digits(text):
            return _Profile(name, "text", missing, text=text, distinct=distinct)
        return _Profile(
            name, "int" if integer.all() else "float", missing, numbers=numbers, distinct=distinct
        )
    return _Profile(name, "text", missing, text=text, distinct=distinct)


def _fixed_digits(text: pd.Series) -> bool:
    """Whether digit strings all have one length >= CODE_MIN_DIGITS and are many (a code, not a number)."""
    lengths = text.str.len()
    return bool(lengths.min() == lengths.max() >= CODE_MIN_DIGITS and text.nunique() > MAX_CLOSED)


# --------------------------------------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    column: str | None
    text: str


@dataclass
class _State:
    """What inference collects on its way through the columns."""

    frame: pd.DataFrame
    day: np.ndarray | None = None  # day number per row, when the time column parsed ...
    day_ok: np.ndarray | None = None  # ... and which rows' days are real (not a missing time)
    problems: list[_Problem] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    code_lengths: dict[str, int] = field(default_factory=dict)  # code column -> its digits
    cardinality: dict[str, int] = field(default_factory=dict)

    def problem(self, column: str | None, text: str) -> None:
        self.problems.append(_Problem(column, text))


def _parse_time(text: pd.Series, layout: str) -> pd.Series:
    return pd.to_datetime(text, errors="coerce", utc=True, format=layout)


def _time_column(state: _State, name: str, raw: pd.Series) -> ColumnSpec | None:
    """Infer the timestamp column: type datetime, with the text layout it is written in when not ISO 8601."""
    missing = raw.isna().to_numpy(dtype=bool)
    layout: str | None = None
    note = ""
    if is_datetime64_any_dtype(raw.dtype):
        parsed = pd.to_datetime(raw, utc=True)
        note = "a time column"
    elif is_numeric_dtype(raw.dtype) or is_bool_dtype(raw.dtype):
        state.problem(
            name,
            f"the time column holds numbers ({raw.dtype}); epoch numbers are ambiguous (seconds? days?). "
            "Convert them to dates (text such as '2025-03-01 14:30' or datetime values)",
        )
        return None
    else:
        text = _as_text(raw.astype(object).where(~missing)).where(~missing).str.strip()
        present = text[~missing]
        sample = present.iloc[:_SAMPLE]
        candidates = ["ISO8601", *TIME_LAYOUTS]
        fits = [c for c in candidates if _parse_time(sample, c).notna().all()]
        parsed = None
        for candidate in fits:
            attempt = _parse_time(text, candidate)
            if attempt[~missing].notna().all():
                layout, parsed = candidate, attempt
                break
        if parsed is None:
            best = max(candidates, key=lambda c: int(_parse_time(present, c).notna().sum()))
            bad = _parse_time(text, best).isna().to_numpy(dtype=bool) & ~missing
            shown = present.iloc[: min(3, len(present))].tolist()
            state.problem(
                name,
                f"the time column is in no layout riskscore knows (e.g. {shown}); {_rows(bad)} do not "
                f"parse as {best!r}. Write the times as ISO 8601 ('2025-03-01 14:30'), or fix those rows",
            )
            return None
        if layout == "ISO8601":
            layout = None
            note = "text times in ISO 8601"
        else:
            assert layout is not None
            note = f"text times in the layout {layout}"
            swapped = layout.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m")
            if layout[:2] in ("%d", "%m") and _parse_time(present, swapped).notna().all():
                note += f" (every day is <= 12, so {swapped} fits as well: day first assumed, check)"
    assert parsed is not None
    valid = parsed.notna().to_numpy(dtype=bool)
    naive = parsed.dt.tz_localize(None)
    state.day = naive.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    state.day_ok = valid
    if valid.any():
        note += f", {naive[valid].min():%Y-%m-%d} to {naive[valid].max():%Y-%m-%d}"
    if missing.any():
        state.problem(
            name,
            f"the time column is missing in {_rows(missing)}; every record needs its time: fill them or drop "
            "the rows",
        )
    state.notes[name] = note + ": the record time"
    return ColumnSpec(name, "datetime", "timestamp", format=layout, label=_label(name))


def _id_column(state: _State, name: str, raw: pd.Series) -> ColumnSpec:
    missing = raw.isna().to_numpy(dtype=bool)
    text = _as_text(raw[~missing].astype(object)).str.strip()
    repeated = np.zeros(len(raw), dtype=bool)
    repeated[np.flatnonzero(~missing)] = text.duplicated(keep=False).to_numpy(dtype=bool)
    if repeated.any():
        first = text[text.duplicated(keep=False)].iloc[0]
        state.problem(
            name,
            f"the id column must be unique; {_rows(repeated)} share ids (e.g. {first!r} appears "
            f"{int((text == first).sum())} times). Remove the duplicate rows, or choose a column that "
            "identifies a record",
        )
    if missing.any():
        state.problem(name, f"the id column is missing in {_rows(missing)}; give every record its id")
    if len(text) and text.str.fullmatch("[0-9]+").all():
        lengths = text.str.len()
        common = int(lengths.mode().iloc[0])
        short = (lengths < common).to_numpy(dtype=bool)
        if common >= CODE_MIN_DIGITS and (lengths == common).mean() >= 0.9 and short.any():
            bad = np.zeros(len(raw), dtype=bool)
            bad[np.flatnonzero(~missing)] = short
            state.problem(
                name,
                f"the id column holds digit codes of {common} digits, but {_rows(bad)} are shorter: leading "
                "zeros lost (a spreadsheet read them as numbers)? Read the file as text or pad the ids",
            )
    state.notes[name] = (
        f"{_count(len(text), 'value')}, {'unique' if not repeated.any() else 'NOT unique'}: the record id"
    )
    return ColumnSpec(name, "string", "id", label=_label(name))


def _numeric_role(name: str, profile: _Profile) -> tuple[str, str]:
    """(role, why) of a number column, from its name first, then from its values."""
    assert profile.numbers is not None
    lo, hi = float(profile.numbers.min()), float(profile.numbers.max())
    hint = _hint(name, _RATE)
    if hint is not None and lo >= 0 and hi <= 100:
        return "rate", f"name says {hint!r} and values lie in [0, {1 if hi <= 1 else 100}]: rate"
    for hints, role in ((_WEIGHT, "weight"), (_QUANTITY, "quantity"), (_DURATION, "duration")):
        hint = _hint(name, hints)
        if hint is not None:
            return role, f"name says {hint!r}: {role}"
    hint = _hint(name, _COUNT)
    if hint is not None and profile.kind == "int":
        return "count", f"name says {hint!r}: count"
    hint = _hint(name, _AMOUNT)
    if hint is not None:
        return "amount", f"name says {hint!r}: amount"
    if profile.kind == "int" and lo >= 0:
        return "count", "non-negative whole numbers: count"
    return "amount", ("positive numbers" if lo > 0 else "numbers") + ": amount"


def _reused(state: _State, profile: _Profile) -> float:
    """Share of a text column's distinct values seen on more than one day (or more than once)."""
    assert profile.text is not None
    positions = np.flatnonzero(~profile.missing)
    if state.day is not None and state.day_ok is not None:
        ok = state.day_ok[positions]
        pairs = pd.DataFrame({"v": profile.text.to_numpy()[ok], "d": state.day[positions][ok]})
        per_value = pairs.drop_duplicates().groupby("v", sort=False).size()
    else:
        per_value = profile.text.value_counts()
    return float((per_value > 1).mean()) if len(per_value) else 0.0


def _text_column(
    state: _State, name: str, profile: _Profile, kw: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Type, role and constraints of a text column: code, entity, category or free text."""
    assert profile.text is not None
    text = profile.text
    n = profile.distinct
    digits = bool(text.str.fullmatch("[0-9]+").all())
    spaced = float(text.str.contains(r"\s", regex=True).mean())
    if digits:
        lengths = text.str.len()
        common = int(lengths.mode().iloc[0])
        if lengths.min() == lengths.max() >= CODE_MIN_DIGITS and n > MAX_CLOSED:
            state.code_lengths[name] = common
            kw |= {"type": "category", "role": "entity", "open": True, "pattern": f"^[0-9]{{{common}}}$"}
            kw["normalize"] = ("strip",)
            levels = _levels(common)
            return kw, (
                f"{n:,} distinct values, {common} digits: code with hierarchy (prefixes "
                f"{', '.join(map(str, levels))} are its coarser levels)"
            )
        if common >= CODE_MIN_DIGITS and n > MAX_CLOSED:
            share = float((lengths == common).mean())
            kw |= {"type": "category", "role": "entity", "open": True, "normalize": ("strip",)}
            return kw, (
                f"{n:,} distinct digit codes of mixed lengths ({share:.0%} have {common} digits, others "
                f"{', '.join(str(v) for v in sorted(set(lengths.unique()) - {common}))}). WARNING: leading zeros "
                "lost somewhere? Read the codes as text and pad them; until then no code hierarchy is used"
            )
    if n > MIN_ENTITY and spaced < 0.5:
        reuse = _reused(state, profile)
        party = _hint(name, _PARTY)
        if reuse > 0.5 and (n > MAX_CATEGORY or party is not None):
            kw |= {"type": "category", "role": "entity", "open": True, "normalize": ("strip", "upper")}
            state.cardinality[name] = n
            why = f"name says {party!r}, " if party is not None else ""
            return kw, (
                f"{n:,} distinct values, {reuse:.0%} seen on more than one day, {why}ids: entity "
                "(its history becomes features)"
            )
    if n > MAX_CLOSED and spaced >= 0.5:
        kw |= {"type": "category", "role": "text", "open": True}
        return kw, f"{n:,} distinct values of several words: free text, not a model input"
    if n > MAX_CATEGORY:
        kw |= {"type": "category", "role": "text", "open": True}
        return kw, f"{n:,} distinct values, rarely re-used: free text, not a model input"
    kw |= {"type": "category", "role": "category"}
    countryish = _hint(name, _DEPARTURE) or _hint(name, _ORIGIN)
    if countryish is not None and text.str.fullmatch("[A-Z]{2}").all():
        kw |= {"open": True, "pattern": "^[A-Z]{2}$"}
        return kw, f"{n:,} distinct two-letter codes, name says {countryish!r}: country category (open list)"
    if n <= MAX_CLOSED:
        # listed for the reader, not enforced: a new office or mode in next month's traffic must score (in
        # the unseen bucket), not stop the clearance system; set open = false to refuse unlisted values
        kw |= {"values": tuple(sorted(text.unique())), "open": True}
        return (
            kw,
            f"{n:,} distinct values: category (values listed as seen; open = true scores new ones as unseen)",
        )
    kw["open"] = True
    return kw, f"{n:,} distinct values: category (open list)"


def _levels(digits: int) -> list[int]:
    """Prefix lengths of a digit code used as its coarser levels: HS6 -> 4, 2; HS8 -> 6, 4, 2."""
    return [p for p in (8, 6, 4, 2) if p < digits]


def _plain_column(state: _State, name: str, raw: pd.Series) -> ColumnSpec:
    """Infer a column that is neither the id, the time nor a label column."""
    profile = _profile(name, raw)
    kw: dict[str, Any] = {"name": name, "label": _label(name)}
    protected = _hint(name, _PROTECTED)
    if profile.kind == "empty":
        kw |= {"type": "string", "role": "text", "nullable": True}
        why = "always missing: kept as text, not a model input (drop it?)"
    elif profile.kind == "bool":
        kw |= {"type": "bool", "role": "flag"}
        why = "two values (0/1 or true/false): flag"
    elif profile.kind == "datetime":
        kw |= {"type": "datetime", "role": "text"}
        why = "a second time column: not a model input (derive features from it yourself)"
    elif profile.kind in ("int", "float"):
        role, why = _numeric_role(name, profile)
        assert profile.numbers is not None
        kw |= {"type": profile.kind, "role": role}
        lo, hi = float(profile.numbers.min()), float(profile.numbers.max())
        if lo >= 0:
            kw["min"] = 0.0
        if role == "rate":
            kw["max"] = 1.0 if hi <= 1 else 100.0
        kind = "whole numbers" if profile.kind == "int" else "numbers"
        why = f"{kind} {fmt_number(lo)} to {fmt_number(hi)}; {why}"
    else:
        kw, why = _text_column(state, name, profile, kw)
    if protected is not None:
        kw["role"] = "protected"
        why += f"; name says {protected!r}: protected attribute, kept out of the model's features"
        state.cardinality.pop(name, None)
        state.code_lengths.pop(name, None)
    if profile.n_missing:
        kw["nullable"] = True
        share = profile.n_missing / len(raw)
        why += f"; missing in {_count(profile.n_missing, 'row')} ({share:.1%})"
        if kw.get("role") == "entity":
            why += ", which share one history"
    state.notes[name] = why
    return ColumnSpec(**kw)


def _label_column(
    state: _State, name: str, raw: pd.Series, label_map: Mapping[Any, str] | None
) -> tuple[ColumnSpec, tuple[tuple[str, str], ...] | None]:
    """Infer the outcome column (role label) and its value -> channel map."""
    missing = raw.isna().to_numpy(dtype=bool)
    profile = _profile(name, raw)
    text = outcome_text(raw[~missing])
    seen = sorted(set(text))
    # numbers as numbers, so that 1, 1.0 and "1" all reach the [labels] map as "1"
    if profile.kind == "bool":
        kw: dict[str, Any] = {"type": "bool"}
    elif profile.kind == "int" or (profile.kind == "float" and set(seen) <= {str(i) for i in range(10)}):
        kw = {"type": "int"}
    else:
        kw = {"type": "category", "values": tuple(seen)} if seen else {"type": "category", "open": True}
    column = ColumnSpec(name, role="label", nullable=bool(missing.any()), label=_label(name), **kw)
    values: tuple[tuple[str, str], ...] | None
    if label_map is not None:
        values = tuple((str(k).strip(), str(v).strip().lower()) for k, v in label_map.items())
        bad = [f"{k}={v}" for k, v in values if v not in _CHANNEL_WORDS]
        if bad:
            state.problem(
                name,
                f"the label map sends values to {', '.join(bad)}; a channel is green, yellow or red. "
                "Write e.g. --label-map 0=green,1=yellow,2=red",
            )
            values = None
        how = "values mapped as given"
    elif set(seen) <= set(_CHANNEL_WORDS):
        values = tuple((c, c) for c in _CHANNEL_WORDS)
        how = "channel words, read as themselves"
    elif set(seen) <= {"0", "1"}:
        values = (("0", "green"), ("1", "red"))
        how = "0/1: 0 -> green (nothing found), 1 -> red (a violation found); pass a label map for yellow"
    else:
        state.problem(
            name,
            f"the label column holds {seen[:10]}, which are not channel words or 0/1; say what each value "
            "means: label_map={'0': 'green', '1': 'yellow', '2': 'red'} (--label-map 0=green,1=yellow,2=red)",
        )
        values, how = None, ""
    if values is not None:
        known = {k for k, _ in values}
        unknown = ~text.isin(list(known)).to_numpy(dtype=bool)
        if unknown.any():
            bad_rows = np.zeros(len(raw), dtype=bool)
            bad_rows[np.flatnonzero(~missing)] = unknown
            odd = sorted(set(text[unknown]))
            state.problem(
                name,
                f"label value(s) {odd[:10]} in {_rows(bad_rows)} are not in the label map "
                f"{dict(values)}; add them (e.g. {odd[0]}=red) or fix the rows",
            )
    counts = text.value_counts()
    shown = ", ".join(f"{v}: {counts.get(v, 0):,}" for v in seen[:10])
    state.notes[name] = (
        f"the inspection outcome ({shown}; missing in {_count(int(missing.sum()), 'row')}, records not "
        f"inspected); {how}: label, never a model input"
    )
    return column, values


def _outcome_column(state: _State, name: str, raw: pd.Series, what: str) -> ColumnSpec:
    """Infer an inspected flag, a propensity or a revenue column: role outcome, never an input."""
    missing = raw.isna().to_numpy(dtype=bool)
    profile = _profile(name, raw)
    nullable = bool(missing.any())
    if what == "inspected":
        if profile.kind != "bool":
            state.problem(
                name,
                "the inspected column must say true/false or 1/0 for every record; found "
                f"{sorted(set(outcome_text(raw[~missing])))[:10]}. Convert it to 0/1",
            )
        state.notes[name] = "which records were inspected: outcome, never a model input"
        return ColumnSpec(name, "bool", "outcome", nullable=nullable, label=_label(name))
    if profile.kind not in ("int", "float", "bool"):
        state.problem(
            name, f"the {what} column must hold numbers; found text such as {raw[~missing].iloc[:3].tolist()}"
        )
        return ColumnSpec(name, "float", "outcome", nullable=nullable, label=_label(name))
    assert profile.numbers is not None
    lo, hi = float(profile.numbers.min()), float(profile.numbers.max())
    if what == "propensity":
        outside = (pd.to_numeric(raw, errors="coerce") <= 0) | (pd.to_numeric(raw, errors="coerce") > 1)
        if outside.any():
            state.problem(
                name,
                f"a selection propensity is a probability in (0, 1]; {_rows(outside.to_numpy(dtype=bool))} "
                "lie outside. Fix them or leave the propensity out",
            )
        state.notes[name] = "probability that the record was selected for inspection: outcome (weights)"
        return ColumnSpec(name, "float", "outcome", nullable=nullable, min=0.0, max=1.0, label=_label(name))
    state.notes[name] = (
        f"revenue recovered, {fmt_number(lo)} to {fmt_number(hi)}: outcome, never a model input"
    )
    return ColumnSpec(
        name, "float", "outcome", nullable=nullable, min=0.0 if lo >= 0 else None, label=_label(name)
    )


# --------------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------------


class _Names:
    """Feature names that repeat no column and no other feature."""

    def __init__(self, taken: Sequence[str]) -> None:
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        name, i = base, 2
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name


def _pick(columns: Sequence[ColumnSpec], role: str, prefer: Sequence[str]) -> ColumnSpec | None:
    """Return the column of a role whose name holds the earliest preferred hint, else the first of the role."""
    candidates = [c for c in columns if c.role == role]
    for hint in prefer:
        for column in candidates:
            if _hint(column.name, (hint,)) is not None:
                return column
    return candidates[0] if candidates else None


def _features(state: _State, columns: Sequence[ColumnSpec], time: str) -> list[DerivedFeature]:
    names = _Names([c.name for c in columns])
    out: list[DerivedFeature] = []
    notes = state.notes
    by_name = {c.name: c for c in columns}
    categories = [c for c in columns if c.role == "category" and c.type in ("string", "category")]
    departure = next((c.name for c in categories if _hint(c.name, _DEPARTURE)), None)
    origin = next((c.name for c in categories if c.name != departure and _hint(c.name, _ORIGIN)), None)
    codes = sorted(state.code_lengths, key=lambda c: (_hint(c, _CODE) is None, -state.cardinality.get(c, 0)))
    code = codes[0] if codes else None
    levels = [f"{code}:{p}" for p in _levels(state.code_lengths[code])] if code else []

    amount = _pick(
        columns, "amount", ("cif", "tinh thue", "customs value", "value", "tri gia", "fob", "price")
    )
    quantity = _pick(columns, "quantity", ())
    weight = _pick(columns, "weight", ("net", "tinh"))
    for other, base, word in (
        (quantity, "unit_value", "per unit"),
        (weight, "value_per_weight", "per weight"),
    ):
        if amount is None or other is None:
            continue
        ratio = names(base)
        out.append(DerivedFeature(ratio, "log_ratio", (amount.name, other.name)))
        notes[ratio] = f"log of {amount.name!r} / {other.name!r}: the declared value {word}"
        if code is None:
            continue
        by = [[code, origin]] if origin else []
        by += [[code]] + [[level] for level in levels]
        ref = names(f"{base}_vs_ref")
        out.append(DerivedFeature(ref, "reference", (ratio,), by=tuple(tuple(b) for b in by)))
        notes[ref] = (
            f"{ratio} against its typical value for the same {code!r}"
            + (f" and {origin!r}" if origin else "")
            + f", backing off to coarser levels ({', '.join(' x '.join(b) for b in by[1:])}) when rare"
        )
    if origin and departure:
        ne = names(f"{_slug(origin)}_ne_{_slug(departure)}")
        out.append(DerivedFeature(ne, "not_equal", (origin, departure)))
        notes[ne] = f"{origin!r} differs from {departure!r} (goods routed through a third country)"
    parties = sorted(
        (c for c in state.cardinality if c not in state.code_lengths and by_name[c].role == "entity"),
        key=lambda c: -state.cardinality[c],
    )
    entities = [c.name for c in columns if c.role == "entity"]
    # cold start (docs/domain.md 2.2): the largest party's hit rate backs off to the next party's (the
    # broker of an importer), the code's and the origin's, so a new trader starts from what they show
    backoff: tuple[tuple[str, ...], ...] = tuple(
        (c,) for c in [*parties[1:2], *([code] if code else []), *([origin] if origin else [])]
    )
    for column in entities:
        first_seen = column in parties[:2]
        feature = names(_slug(column))
        levels_of = backoff if parties and column == parties[0] else ()
        out.append(
            DerivedFeature(
                feature, "history", (column,), windows=(7, 90), first_seen=first_seen, by=levels_of
            )
        )
        notes[feature] = (
            f"history of {column!r} on earlier days: records, inspections' hit rate, 7- and 90-day counts"
            + (", days since first seen" if first_seen else "")
            + (
                f"; the hit rate of a new or rarely inspected one starts from "
                f"{', '.join(c for (c,) in levels_of)}'s"
                if levels_of
                else ""
            )
        )
    for level in levels[:2]:
        base, cut = level.rsplit(":", 1)
        feature = names(f"{_slug(base)}{cut}")
        out.append(DerivedFeature(feature, "history", (level,)))
        notes[feature] = f"history of the first {cut} digits of {base!r} (the code's coarser level)"
    if parties and code:
        pair = names(f"{_slug(parties[0])}_{_slug(code)}")
        out.append(
            DerivedFeature(pair, "history", (parties[0], code), first_seen=True, by=((parties[0],), (code,)))
        )
        notes[pair] = (
            f"history of the pair {parties[0]!r} x {code!r}: the first time this one declares this code"
        )
    calendar = names("calendar")
    out.append(DerivedFeature(calendar, "calendar", (time,)))
    notes[calendar] = f"day of week and hour of {time!r}"
    return out


# --------------------------------------------------------------------------------------------------------
# The public functions
# --------------------------------------------------------------------------------------------------------


def infer_spec_with_notes(
    frame: pd.DataFrame,
    *,
    id: str,  # the spec's own word for the id column
    timestamp: str,
    label: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    inspected: str | None = None,
    propensity: str | None = None,
    revenue: str | None = None,
    name: str = "own",
) -> tuple[RecordSpec, dict[str, str]]:
    """Propose a record spec for a table, with the evidence for each column and feature.

    See :func:`infer_spec` for the rules. The notes are what
    :meth:`~riskscore.spec.RecordSpec.to_toml` writes as comments: ``spec.to_toml(notes=notes)``.

    Returns
    -------
    spec : RecordSpec
    notes : dict of str to str
        Column or feature name (and ``"[spec]"``, ``"[labels]"``) -> why it was proposed so. Warnings
        (e.g. codes of mixed lengths) start with ``WARNING`` inside the note.

    Raises
    ------
    SchemaError
        Every problem found at once, one per line, each with its column, rows and fix.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"infer_spec needs a pandas DataFrame, got {type(frame).__name__}")
    state = _State(frame.reset_index(drop=True))
    data = state.frame
    columns = list(data.columns)
    odd = [c for c in columns if not isinstance(c, str) or not c.strip()]
    if odd:
        state.problem(None, f"column labels must be non-empty text; found {odd[:5]}. Name the columns")
    repeated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if repeated:
        state.problem(None, f"column label(s) {repeated} repeat; rename the copies")
    if not isinstance(name, str) or not name.isidentifier():
        state.problem(
            None, f"the spec name must be an identifier such as 'own' or 'vn_imports', got {name!r}"
        )
    named = {"id": id, "timestamp": timestamp, "label": label, "inspected": inspected, "propensity": propensity,
             "revenue": revenue}  # fmt: skip
    text_columns = [str(c) for c in columns]
    for role, column in named.items():
        if column is not None and column not in columns:
            state.problem(
                column,
                f"the {role} column {column!r} is not in the data{did_you_mean(str(column), text_columns)}; "
                f"its columns are: {', '.join(map(repr, text_columns[:40]))}",
            )
    given = [(r, c) for r, c in named.items() if c is not None]
    for i, (role, column) in enumerate(given):
        for other_role, other in given[i + 1 :]:
            if column == other:
                state.problem(
                    column,
                    f"column {column!r} is named both as the {role} and as the {other_role} column; one "
                    f"column cannot be both (an outcome must never be a record's key or input): name another "
                    f"{other_role} column",
                )
    if label_map is not None and label is None:
        state.problem(None, "a label map was given without the label column it maps; pass label=COLUMN")
    if odd or repeated:
        raise _failure(state)  # the columns cannot be told apart: nothing more to say about them

    # every problem is collected before failing: each named column the data has is still inferred, and a
    # column named for two roles takes the first (id, timestamp, label, inspected, propensity, revenue)
    specs: dict[str, ColumnSpec] = {}
    if timestamp in columns:
        specs[timestamp] = _time_column(state, timestamp, data[timestamp]) or ColumnSpec(
            timestamp, "datetime", "timestamp"
        )
    if id in columns and id not in specs:
        specs[id] = _id_column(state, id, data[id])
    values = None
    if label is not None and label in columns and label not in specs:
        specs[label], values = _label_column(state, label, data[label], label_map)
    for role in ("inspected", "propensity", "revenue"):
        column = named[role]
        if column is not None and column in columns and column not in specs:
            specs[column] = _outcome_column(state, column, data[column], role)
    for column in columns:
        if column not in specs:
            try:
                specs[column] = _plain_column(state, column, data[column])
            except SpecError as exc:  # pragma: no cover - the inferred values are checked above
                state.problem(column, str(exc))
    if state.problems:
        raise _failure(state)
    ordered = tuple(specs[c] for c in columns)
    features = _features(state, ordered, timestamp)
    labels = None
    if label is not None and values is not None:
        labels = LabelSpec(label, values, inspected=inspected, propensity=propensity, revenue=revenue)
        state.notes["[labels]"] = f"what inspections found: {label!r} " + (
            f"({', '.join(f'{k} -> {v}' for k, v in values)})"
        )
    day = state.day[state.day_ok] if state.day is not None and state.day_ok is not None else np.zeros(0)
    period = ""
    if len(day):
        first, last = (np.datetime64(int(d), "D") for d in (day.min(), day.max()))
        period = f", {first} to {last}"
    spec = RecordSpec(
        name=name,
        version=1,
        description=f"Inferred by riskscore from {len(data):,} records{period}; read it before training",
        id_column=id,
        time_column=timestamp,
        columns=ordered,
        features=tuple(features),
        labels=labels,
    )
    roles_seen: dict[str, int] = {}
    for spec_column in ordered:
        roles_seen[spec_column.role] = roles_seen.get(spec_column.role, 0) + 1
    state.notes["[spec]"] = (
        f"{len(ordered)} columns ({', '.join(f'{n} {r}' for r, n in roles_seen.items())}), "
        f"{len(features)} derived features"
    )
    notes = {k: v for k, v in state.notes.items() if k in {c.name for c in ordered} | {f.name for f in features}
             | {"[spec]", "[labels]"}}  # fmt: skip
    return spec, notes


def infer_spec(
    frame: pd.DataFrame,
    *,
    id: str,  # the spec's own word for the id column
    timestamp: str,
    label: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    inspected: str | None = None,
    propensity: str | None = None,
    revenue: str | None = None,
    name: str = "own",
) -> RecordSpec:
    """Propose a record spec for a table of declarations in its own layout.

    The evidence behind each choice comes with :func:`infer_spec_with_notes` (same arguments), which returns
    ``(spec, notes)``; write both with ``spec.to_toml(notes=notes)`` (what ``riskscore spec infer`` does).

    Parameters
    ----------
    frame : pandas.DataFrame
        The records, as read: numbers, datetimes and text, or text only (a CSV read with ``dtype=str``;
        codes then keep their leading zeros, and numbers are recognised in the text).
    id, timestamp : str
        The record id column (unique) and the record time column (datetimes, or text in ISO 8601 or in one
        of :data:`TIME_LAYOUTS`, which is then written as the column's ``format``).
    label : str, optional
        The inspection outcome column (role ``label``): channel words, 0/1, 0/1/2...; missing where no
        inspection took place. Without it the spec has no ``[labels]`` and cannot train.
    label_map : mapping, optional
        Outcome value -> channel, e.g. ``{"0": "green", "1": "yellow", "2": "red"}``. Default: channel
        words as themselves; a 0/1 outcome as 0 -> green, 1 -> red.
    inspected, propensity, revenue : str, optional
        Which records were inspected (0/1), the probability the past policy selected each record, the
        revenue recovered: role ``outcome``, never model inputs.
    name : str, default "own"
        The spec name (an identifier).

    Returns
    -------
    RecordSpec
        Columns in the frame's order, each with type, role and constraints:

        - protected attributes by name (sex, gender, age, birth, nationality, citizenship, religion,
          ethnic, and a few words in Vietnamese, French and Spanish): role ``protected``;
        - text of digits of one length >= 4 with more than 30 values (HS codes): a code with hierarchy,
          role ``entity``, ``pattern`` of that many digits, its prefixes used as coarser levels;
        - text of more than 50 values, most seen on more than one day, named like a party (importer,
          broker, ``ma doanh nghiep``...) or with more than 200 values: role ``entity``,
          ``normalize = ["strip", "upper"]``;
        - other text: ``category`` (a closed ``values`` list up to 30 values, open up to 200), or free
          text (role ``text``) when longer or made of several words;
        - numbers: ``rate``, ``weight``, ``quantity``, ``duration``, ``count`` or ``amount`` by name,
          else ``count`` for whole non-negative numbers and ``amount`` otherwise; ``min = 0`` when none is
          negative; 0/1 and true/false columns are ``bool`` flags;
        - ``nullable`` where values are missing, and a short ``label`` from the column name.

        Features: history of every entity (7 and 90-day windows; days since first seen for the two
        largest party entities; the largest party's hit rate backing off to the second party's, the
        code's and the origin's), history of the code's coarser levels and of the largest party x code
        (backing off to the party, then the code),
        log ratios of the main amount to quantity and to weight with their ``reference`` deviation by
        code (x origin when an origin-like category exists) backing off to the code's prefixes, origin !=
        departure when both exist, the calendar of the time column.

    Raises
    ------
    SchemaError
        Every problem at once, one per line with its column, rows (0-based positions) and fix: a named
        column the data lacks, a column named for two roles, an id that repeats or is missing, times in no
        known layout, a label value missing from the map, an inspected column that is not 0/1, a
        propensity outside (0, 1]. Digit codes of mixed lengths are only a warning in the notes, unless
        they are the ids.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"no": ["A1", "A2"], "date": ["2025-02-01", "2025-02-02"], "kg": [1.5, 2.0]})
    >>> infer_spec(table, id="no", timestamp="date").column("kg").role
    'weight'
    """
    spec, _ = infer_spec_with_notes(
        frame,
        id=id,
        timestamp=timestamp,
        label=label,
        label_map=label_map,
        inspected=inspected,
        propensity=propensity,
        revenue=revenue,
        name=name,
    )
    return spec


def _failure(state: _State) -> SchemaError:
    lines = [
        f"  - {'column ' + repr(p.column) + ': ' if p.column is not None else ''}{p.text}"
        for p in state.problems
    ]
    n = len(lines)
    return SchemaError(f"cannot infer a spec from this table: {_count(n, 'problem')}\n" + "\n".join(lines))
