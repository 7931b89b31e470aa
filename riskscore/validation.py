"""Validation: check a frame of records against a record spec and coerce it to canonical dtypes.

Every value is coerced on its own, never by its batch: a record's result does not depend on the other
records it arrives with (docs/api.md, "Input rules"). Messages name the column, the first bad row (its
position, index label and record id), the value found and the fix.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
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

from riskscore._fmt import did_you_mean, fmt_number, quote_list, show
from riskscore.exceptions import ParameterError, SchemaError
from riskscore.spec import ColumnSpec, RecordSpec, load_spec

__all__ = ["validate_frame"]

_INT64_LIMIT = 2.0**63
_FLOAT_MAX = sys.float_info.max
_TRUE_STRINGS = ("true", "1")
_FALSE_STRINGS = ("false", "0")


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
            parts.append(f"index {show(self.index[position])}")
        if self.ids is not None:
            record_id = self.ids.iloc[position]
            if not pd.isna(record_id):
                parts.append(f"{self.id_name} {show(record_id)}")
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
            found = f"has {show(self.raw.iloc[position])}"
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
            col.fail(f"be {word} >= {fmt_number(spec.min)}", below, _FIX_VALUE)
    if spec.max is not None:
        above = values > spec.max
        if above.any():
            col.fail(f"be {word} <= {fmt_number(spec.max)}", above, _FIX_VALUE)


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
    if isinstance(dtype, pd.CategoricalDtype):
        # each category converted once, by the same rules; rows take their category's text (or its refusal)
        cats, bad_cats = _as_str(pd.Series(dtype.categories.to_numpy(dtype=object), dtype=object))
        codes = raw.cat.codes.to_numpy()
        taken = cats.to_numpy(dtype=object, na_value=np.nan)[np.maximum(codes, 0)]
        taken[codes < 0] = np.nan
        bad = None if bad_cats is None else (bad_cats[np.maximum(codes, 0)] & (codes >= 0))
        return pd.Series(taken, index=raw.index, dtype="str"), (
            bad if bad is not None and bad.any() else None
        )
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
                f"be one of {quote_list(spec.values or ())}",
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
    parts = [f"{name!r}{did_you_mean(name, labels)}" for name in missing]
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
        Listing every problem found (numbered when there are several), each naming the column, the
        expectation, the first offending row (its 0-based position,
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
            f"the frame has repeated column label(s) {quote_list(repeated)}; rename or drop the copies"
        )
    known = set(record_spec.names())
    present = set(labels)
    extras = [c for c in labels if c not in known]
    # every problem of the frame in one error: a user fixing a table wants the whole list, not one a run
    problems: list[str] = []
    missing = [c.name for c in record_spec.columns if _required(c, columns) and c.name not in present]
    if missing:
        problems.append(_missing_columns_message(record_spec, missing, extras, columns))
    if extra == "error" and extras:
        problems.append(
            f"the frame has column(s) that spec {record_spec.name!r} does not know: {quote_list(extras)}. "
            f"Drop them, or pass extra='keep' or extra='drop'."
        )

    rows = _Rows(frame, record_spec)
    out: list[pd.Series] = []
    for column in record_spec.columns:
        if column.name not in present:
            continue
        state = _Column(column, frame[column.name], rows)
        check = columns == "all" or column.declared
        try:
            out.append(_COERCERS[column.type](state, check))
        except SchemaError as exc:
            problems.append(str(exc))

    if check_ids and record_spec.id_column in present:
        ids = next((s for s in out if s.name == record_spec.id_column), None)
        if ids is not None:
            try:
                _check_unique_ids(ids, rows)
            except SchemaError as exc:
                problems.append(str(exc))
    if problems:
        raise SchemaError(_problems_message(problems))

    if extra == "keep":
        out.extend(frame[c] for c in extras)  # copy-on-write: the input stays untouched
    if not out:
        return pd.DataFrame(index=frame.index.copy())
    return pd.concat(out, axis=1)


def _problems_message(problems: list[str]) -> str:
    """One problem as it is; several as a numbered list under a count."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems in the records:\n" + "\n".join(
        f"{i}. {p}" for i, p in enumerate(problems, 1)
    )


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
