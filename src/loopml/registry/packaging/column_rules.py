"""The checks on one column's values, and how each problem is phrased.

`checks.Plan` picks one of two paths per frame; both use the same rule and wording:

* small frames (an online request is usually one row) are checked value by value in plain
  Python after the values are pulled out in one call; pandas spends tens of microseconds
  on every column operation, which would dominate a 1-row check;
* larger frames are checked column by column with pandas and numpy, deciding from the dtype
  where that is enough and looking at values only where it must.

tests/registry/packaging/test_validate.py runs every case through both paths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.registry.packaging.columns import ColumnSpec, ColumnType, FieldError

SMALL_FRAME_ROWS = 256  # measured break-even of the two paths (bench_validate.py)
_SHOWN_LEVELS = 20

_NUMBERS = (int, float, np.integer, np.floating)
_BOOLS = (bool, np.bool_)
_HINTS: dict[ColumnType, str] = {
    "float": "send a number",
    "integer": "send a whole number",
    "boolean": "send true or false",
    "string": "send a string",
    "category": "send a string",
    "datetime": "send an ISO 8601 date-time such as 2024-05-01T12:30:00",
}

Mask = npt.NDArray[np.bool_]


def is_null(value: object) -> bool:
    """None, NaN, pd.NA and NaT: what pandas' isna() calls missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(value != value)
    return isinstance(value, np.datetime64) and bool(np.isnat(value))


def _accepts_float(value: object) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, _BOOLS)


def _accepts_integer(value: object) -> bool:
    if isinstance(value, _BOOLS):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, float | np.floating) and float(value).is_integer()


def _accepts_boolean(value: object) -> bool:
    return isinstance(value, _BOOLS)


def _accepts_string(value: object) -> bool:
    return isinstance(value, str)


def _accepts_datetime(value: object) -> bool:
    if isinstance(value, dt.date | np.datetime64):
        return True
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


ACCEPTS: dict[ColumnType, Callable[[object], bool]] = {
    "float": _accepts_float,
    "integer": _accepts_integer,
    "boolean": _accepts_boolean,
    "string": _accepts_string,
    "category": _accepts_string,
    "datetime": _accepts_datetime,
}

# Exact types that pass a check outright (bool is a subclass of int: exact types keep it out).
_INTS = frozenset(
    {int, np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8}
)
_FLOATS = frozenset({float, np.float64, np.float32, np.float16})
_FAST_TYPES: dict[ColumnType, frozenset[type]] = {
    "float": _FLOATS | _INTS,
    "integer": _INTS,
    "boolean": frozenset({bool, np.bool_}),
    "string": frozenset({str}),
    "category": frozenset({str}),
    "datetime": frozenset({pd.Timestamp, dt.datetime, dt.date}),  # not NaT, not datetime64
}


def _fast_ok(spec: ColumnSpec, levels: frozenset[str] | None) -> Callable[[object], bool]:
    """A cheap test that implies the full check passes; False means "look closer".

    Most values of a valid request pass it, which keeps a 1-row check to a few microseconds.
    """
    types = _FAST_TYPES[spec.type]
    if levels is not None:
        return lambda v: type(v) in types and v in levels
    if spec.type == "float" and not spec.nullable:
        return lambda v: type(v) in types and v == v  # NaN is a float too
    return lambda v: type(v) in types


# (spec type, dtype family) pairs whose every non-null value is acceptable.
_DTYPE_IS_ENOUGH = {
    ("float", "float"),
    ("float", "integer"),
    ("integer", "integer"),
    ("boolean", "boolean"),
    ("string", "string"),
    ("category", "string"),
    ("datetime", "datetime"),
}


def dtype_family(dtype: Any) -> str:
    """float, integer, boolean, string, datetime, or object (values must be looked at)."""
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.CategoricalDtype):
        return "object"
    kinds = {"f": "float", "i": "integer", "u": "integer", "b": "boolean", "M": "datetime"}
    return kinds.get(dtype.kind, "object")


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _rows_text(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:3])
    if len(rows) == 1:
        return f"row {shown}"
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    return f"rows {shown}{more}"


class ColumnRule:
    """The checks for one column, prepared once per signature."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.accepts = ACCEPTS[spec.type]
        self.levels = frozenset(spec.categories) if spec.categories is not None else None
        self.fast_ok = _fast_ok(spec, self.levels)

    def check_values(self, values: Sequence[object]) -> list[FieldError]:
        """The per-value path, for small frames."""
        nulls: list[int] = []
        wrong: list[int] = []
        unknown: list[int] = []
        accepts, levels, nullable = self.accepts, self.levels, self.spec.nullable
        fast_ok = self.fast_ok
        for row, value in enumerate(values):
            if fast_ok(value):
                continue
            if is_null(value):
                if not nullable:
                    nulls.append(row)
            elif not accepts(value):
                wrong.append(row)
            elif levels is not None and value not in levels:
                unknown.append(row)
        if not (nulls or wrong or unknown):
            return []
        return self._report(nulls, wrong, unknown, lambda row: values[row])

    def check_series(self, column: pd.Series[Any]) -> list[FieldError]:
        """The vectorised path, for larger frames."""
        isnull = np.asarray(column.array.isna(), dtype=bool)
        nulls = [] if self.spec.nullable else np.flatnonzero(isnull).tolist()
        wrong_mask = self._wrong_mask(column, isnull)
        wrong = np.flatnonzero(wrong_mask).tolist()
        unknown: list[int] = []
        if self.levels is not None:
            # Levels are few: compare the distinct values, then find rows only on a miss.
            misses = [
                v for v in column.array.unique()
                if not is_null(v) and self.accepts(v) and v not in self.levels
            ]  # fmt: skip
            if misses:
                hit = column.isin(misses).to_numpy()
                unknown = np.flatnonzero(hit & ~isnull & ~wrong_mask).tolist()
        if not (nulls or wrong or unknown):
            return []
        return self._report(nulls, wrong, unknown, lambda row: column.iloc[row])

    def _wrong_mask(self, column: pd.Series[Any], isnull: Mask) -> Mask:
        spec_type, family = self.spec.type, dtype_family(column.dtype)
        if (spec_type, family) in _DTYPE_IS_ENOUGH:
            return np.zeros(len(column), dtype=bool)
        if spec_type == "integer" and family == "float":
            numbers = column.to_numpy(dtype=float, na_value=np.nan)
            whole: Mask = np.isfinite(numbers) & (numbers == np.trunc(numbers))
            return ~isnull & ~whole
        if family == "object" or (spec_type == "datetime" and family == "string"):
            values = column.to_numpy(dtype=object)
            accepts = self.accepts
            rejected = np.fromiter((not accepts(v) for v in values), dtype=bool, count=len(values))
            return rejected & ~isnull
        return ~isnull  # a typed column of the wrong kind: every value is wrong

    def _report(
        self,
        nulls: list[int],
        wrong: list[int],
        unknown: list[int],
        value_at: Callable[[int], object],
    ) -> list[FieldError]:
        spec, errors = self.spec, []
        if nulls:
            errors.append(
                FieldError(
                    spec.name,
                    f"missing value at {_rows_text(nulls)}",
                    _null_hint(spec),
                )
            )
        if wrong:
            value = _plain(value_at(wrong[0]))
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            errors.append(
                FieldError(
                    spec.name,
                    f"expected {spec.type}, got {type(value).__name__} {shown} "
                    f"at {_rows_text(wrong)}",
                    _HINTS[spec.type],
                )
            )
        if unknown:
            value = _plain(value_at(unknown[0]))
            errors.append(
                FieldError(
                    spec.name,
                    f"unknown category {value!r} at {_rows_text(unknown)}",
                    f"use one of: {self._levels_text()}",
                )
            )
        return errors

    def _levels_text(self) -> str:
        levels = self.spec.categories or []
        shown = ", ".join(repr(level) for level in levels[:_SHOWN_LEVELS])
        return shown + (f" … ({len(levels)} in all)" if len(levels) > _SHOWN_LEVELS else "")


def _null_hint(spec: ColumnSpec) -> str:
    if spec.model_takes_missing is False:
        return (
            f"the model fails on a missing {spec.name!r} (tried when it was logged); send a value"
        )
    return f"{spec.name!r} was never empty in training; send a value"
