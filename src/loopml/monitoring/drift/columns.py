"""Reading the columns of a drift source one at a time, as sorted values or level counts.

A source is a Parquet or CSV file (or a list of them), a `pyarrow.Table`, a
`pandas.DataFrame` or a `duckdb.DuckDBPyRelation` (a monitor's window over prediction-log
segments). Only one column of a source is held at a time, so a check needs memory for a
column, not for a table.

Nulls, NaNs and ±inf are counted and then dropped (inf counts as null, as in Evidently:
an infinite value has no place on a distribution's axis). What is left becomes either a
sorted float64 array (numerical) or counts per level (categorical). Levels are compared by
their text form: `1`, `1.0` and `"1"` are one level, so a column read as integers on one
side and floats on the other (pandas turns integers with nulls into floats) does not
drift by type alone.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from loopml.errors import ValidationError
from loopml.monitoring.drift.statistics import FloatArray, IntArray
from loopml.monitoring.results import ColumnKind

PathLike: TypeAlias = str | os.PathLike[str]
Source: TypeAlias = (
    PathLike | Sequence[PathLike] | pa.Table | pd.DataFrame | duckdb.DuckDBPyRelation
)


class ColumnSource(Protocol):
    """Tabular data read one column at a time."""

    @property
    def names(self) -> list[str]: ...

    def row_count(self) -> int: ...

    def arrow_type(self, name: str) -> pa.DataType: ...

    def read(self, name: str) -> pa.ChunkedArray: ...


# ------------------------------------------------------------------------------ sources
class ArrowSource:
    """An in-memory `pyarrow.Table`."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    @property
    def names(self) -> list[str]:
        return list(self._table.column_names)

    def row_count(self) -> int:
        return int(self._table.num_rows)

    def arrow_type(self, name: str) -> pa.DataType:
        return self._table.schema.field(name).type

    def read(self, name: str) -> pa.ChunkedArray:
        return self._table.column(name)


class PandasSource:
    """A `pandas.DataFrame`, converted to Arrow one column at a time."""

    def __init__(self, frame: pd.DataFrame) -> None:
        if frame.columns.duplicated().any():
            dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise ValidationError(f"the DataFrame has duplicate column names {dupes}: rename them")
        self._frame = frame

    @property
    def names(self) -> list[str]:
        return [str(c) for c in self._frame.columns]

    def row_count(self) -> int:
        return len(self._frame)

    def _series(self, name: str) -> pd.Series[Any]:
        for column in self._frame.columns:
            if str(column) == name:
                return self._frame[column]
        raise KeyError(name)

    def arrow_type(self, name: str) -> pa.DataType:
        series = self._series(name)
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return pa.string()
        if pd.api.types.is_bool_dtype(dtype):
            return pa.bool_()
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pa.timestamp("ns")
        if pd.api.types.is_numeric_dtype(dtype):
            return pa.float64()
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return pa.float64()
        return pa.bool_() if inferred == "boolean" else pa.string()

    def read(self, name: str) -> pa.ChunkedArray:
        series = self._series(name)
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        try:
            return pa.chunked_array([pa.array(series, from_pandas=True)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            # Mixed Python types in one object column: compare their text forms.
            labels = [None if _is_null(v) else level_label(v) for v in series.tolist()]
            return pa.chunked_array([pa.array(labels, type=pa.string())])


class ParquetSource:
    """Parquet files read through `pyarrow.dataset`, one column at a time.

    The schemas of all files are unified, so a column missing from some files reads as
    nulls there.
    """

    def __init__(self, paths: list[Path]) -> None:
        schema = pa.unify_schemas([pq.read_schema(p) for p in paths])
        self._dataset = pads.dataset([str(p) for p in paths], schema=schema, format="parquet")

    @property
    def names(self) -> list[str]:
        return list(self._dataset.schema.names)

    def row_count(self) -> int:
        return int(self._dataset.count_rows())

    def arrow_type(self, name: str) -> pa.DataType:
        return self._dataset.schema.field(name).type

    def read(self, name: str) -> pa.ChunkedArray:
        return self._dataset.to_table(columns=[name]).column(0)


# A DuckDB connection must not run queries from two threads at once, and the reference and
# current relations of a check often share one connection: their reads take turns.
_RELATION_LOCK = threading.Lock()


class RelationSource:
    """A DuckDB relation (DuckDB parallelises each read itself)."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self._relation = relation
        self._lock = _RELATION_LOCK
        with self._lock:
            self._schema = relation.limit(0).to_arrow_table().schema
        self._rows: int | None = None

    @property
    def names(self) -> list[str]:
        return list(self._schema.names)

    def row_count(self) -> int:
        if self._rows is None:
            with self._lock:
                self._rows = int(self._relation.aggregate("count(*)").fetchall()[0][0])
        return self._rows

    def arrow_type(self, name: str) -> pa.DataType:
        return self._schema.field(name).type

    def read(self, name: str) -> pa.ChunkedArray:
        with self._lock:
            table = self._relation.select(duckdb.ColumnExpression(name)).to_arrow_table()
        return table.column(0)


def open_source(source: Source, role: str = "source") -> ColumnSource:
    """The column reader for any supported source; `role` names it in error messages."""
    if isinstance(source, pa.Table):
        return ArrowSource(source)
    if isinstance(source, pd.DataFrame):
        return PandasSource(source)
    if isinstance(source, duckdb.DuckDBPyRelation):
        return RelationSource(source)
    if isinstance(source, str | os.PathLike):
        paths = [Path(source)]
    elif isinstance(source, Sequence) and all(isinstance(p, str | os.PathLike) for p in source):
        paths = [Path(p) for p in source]
    else:
        raise ValidationError(
            f"the {role} must be a Parquet/CSV path or list of paths, a pyarrow.Table, a "
            f"pandas.DataFrame or a duckdb relation, got {type(source).__name__}"
        )
    if not paths:
        raise ValidationError(f"the {role} is an empty list of files")
    files = [f for p in paths for f in (sorted(p.glob("*.parquet")) if p.is_dir() else [p])]
    missing = [str(p) for p in files if not p.is_file()]
    if missing or not files:
        raise ValidationError(
            f"the {role} files do not exist: {missing or [str(p) for p in paths]}"
        )
    suffixes = {f.suffix.lower() for f in files}
    if suffixes <= {".parquet", ".pq"}:
        return ParquetSource(files)
    if suffixes <= {".csv", ".gz"}:
        relation = duckdb.connect().read_csv([str(f) for f in files])
        return RelationSource(relation)
    raise ValidationError(
        f"the {role} files must all be Parquet (.parquet) or all CSV (.csv), got {sorted(suffixes)}"
    )


# -------------------------------------------------------------------------- column kinds
def detect_kind(data_type: pa.DataType) -> ColumnKind | None:
    """Strings, booleans and dictionaries are categorical, numbers numerical, else None."""
    if pa.types.is_dictionary(data_type):
        return "categorical"
    if pa.types.is_boolean(data_type) or pa.types.is_string(data_type):
        return "categorical"
    if pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return "categorical"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "numerical"
    if pa.types.is_decimal(data_type):
        return "numerical"
    return None


def readable_as(data_type: pa.DataType, kind: ColumnKind) -> bool:
    """Whether a column of this type can be read as the given kind (when declared)."""
    if detect_kind(data_type) is not None or pa.types.is_null(data_type):
        return True
    temporal = pa.types.is_temporal(data_type)
    return temporal or (kind == "categorical" and pa.types.is_binary(data_type))


# ---------------------------------------------------------------------------- numerical
@dataclass(frozen=True)
class NumericalValues:
    """The finite values of a column, sorted, and what was dropped."""

    values: FloatArray
    nulls: int  # nulls, NaNs, ±inf and (for text) values that are not numbers
    infinite: int = 0
    unparsed: int = 0  # text values that are not numbers

    @property
    def rows(self) -> int:
        return int(self.values.size)


def read_numerical(source: ColumnSource, name: str) -> NumericalValues:
    """A column's finite values as a sorted float64 array (one copy, sorted in place)."""
    column = source.read(name)
    total = len(column)
    unparsed = 0
    data_type = column.type
    if pa.types.is_dictionary(data_type):
        column = column.cast(data_type.value_type)
        data_type = column.type
    if pa.types.is_temporal(data_type):
        column = column.cast(pa.int64())
    elif pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        column, unparsed = _parse_numbers(column)
    elif pa.types.is_null(data_type):
        return NumericalValues(np.empty(0), nulls=total)
    raw = column.cast(pa.float64()).to_numpy()
    finite = np.isfinite(raw)
    all_finite = bool(finite.all())
    infinite = 0 if all_finite else int(np.count_nonzero(np.isinf(raw)))
    # Sorted in place below, so never the read-only buffer that Arrow shares with us.
    values = raw[finite] if not all_finite else raw if raw.flags.writeable else raw.copy()
    del raw, finite
    values.sort()
    return NumericalValues(values, nulls=total - values.size, infinite=infinite, unparsed=unparsed)


def _parse_numbers(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, int]:
    try:
        return column.cast(pa.float64()), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = column.to_pandas()
        numbers = pd.to_numeric(text, errors="coerce")
        unparsed = int(text.notna().sum() - numbers.notna().sum())
        return pa.chunked_array([pa.array(numbers, type=pa.float64(), from_pandas=True)]), unparsed


# --------------------------------------------------------------------------- categorical
@dataclass(frozen=True)
class CategoricalCounts:
    """How often each level of a column occurs (nulls, NaN and ±inf excluded)."""

    counts: dict[str, int]
    order: dict[str, tuple[int, float, str]]  # sort key per level: numbers first, by value
    nulls: int

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def read_categorical(source: ColumnSource, name: str) -> CategoricalCounts:
    """Counts per level, keyed by the level's text form."""
    column = source.read(name)
    total = len(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_floating(column.type):
        column = column.filter(pc.is_finite(column))
    elif pa.types.is_temporal(column.type) or pa.types.is_decimal(column.type):
        column = column.cast(pa.string())
    column = column.drop_null()
    if pa.types.is_null(column.type) or len(column) == 0:
        return CategoricalCounts({}, {}, nulls=total)
    tallied = pc.value_counts(column)
    counts: dict[str, int] = {}
    order: dict[str, tuple[int, float, str]] = {}
    for value, count in zip(
        tallied.field("values").to_pylist(), tallied.field("counts").to_pylist(), strict=True
    ):
        label = level_label(value)
        counts[label] = counts.get(label, 0) + int(count)
        order[label] = _sort_key(value, label)
    return CategoricalCounts(counts, order, nulls=total - len(column))


def align_levels(
    ref: CategoricalCounts, cur: CategoricalCounts
) -> tuple[list[str], IntArray, IntArray]:
    """Both sides' counts over the union of their levels, in sorted level order."""
    order = {**cur.order, **ref.order}
    levels = sorted(order, key=order.__getitem__)
    ref_counts = np.array([ref.counts.get(level, 0) for level in levels], dtype=np.int64)
    cur_counts = np.array([cur.counts.get(level, 0) for level in levels], dtype=np.int64)
    return levels, ref_counts, cur_counts


def level_label(value: Any) -> str:
    """The text form that identifies a level: 1, 1.0 and "1" are the same level."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _sort_key(value: Any, label: str) -> tuple[int, float, str]:
    if isinstance(value, bool | int | float | np.number):
        return (0, float(value), label)
    return (1, 0.0, label)


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and not math.isfinite(value)
