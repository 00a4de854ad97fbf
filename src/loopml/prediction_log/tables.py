"""Journal lines to Arrow tables: one per deployment, kind and (UTC) day.

Inputs logged as a float64 matrix (`InputMatrix`) stay bytes until the table is built:
the matrices of a batch are joined into one array, and each column handed to Arrow whole.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa

from loopml.prediction_log.records import FEEDBACK, FLOAT64, MATRIX_KEY, OK_STATUS, PREDICTION

PREDICTIONS = "predictions"
FEEDBACK_KIND = "feedback"
PREDICTION_COLUMNS = [
    "request_id",
    "time",
    "deployment",
    "model",
    "shadow",
    "latency_ms",
    "status",
    "row",
    "prediction",
]
FEEDBACK_COLUMNS = ["request_id", "time", "deployment", "row", "label", "version"]
EVENT_TIME = "event_time"  # optional: when the event happened (null: at `time`)
UNSEEN = "unseen"  # optional, per prediction row: its unseen categories as JSON (or null)
INPUT_PREFIX = "in_"
PACKED_PROBABILITY_ROWS = 8

Matrix = npt.NDArray[np.float64]
Names = tuple[str, ...]  # the columns of a packed matrix, in its column order
Packed = tuple[Names, bytes]  # little-endian float64 values, row by row
_PREFIXED: dict[tuple[Any, ...], Names | None] = {}  # journal column lists, checked once


@dataclass(frozen=True)
class Block:
    """The rows of one journal record: values shared by every row, per-row columns, and
    columns still packed in float64 matrices (rows by the columns named beside each)."""

    rows: int
    shared: dict[str, Any]
    per_row: dict[str, list[Any]]
    matrices: tuple[Packed, ...] = ()


@dataclass
class Batch:
    """The rows of one (deployment, kind, day), column by column.

    Records are added a block at a time (whole columns extended at once): building a dict
    per row cost most of a flush.
    """

    kind: str
    columns: dict[str, list[Any]] = field(default_factory=dict)
    rows: int = 0
    # packed matrices by their column names: (first row of each, their bytes)
    matrices: dict[Names, tuple[list[int], list[bytes]]] = field(default_factory=dict)

    def add_block(self, block: Block) -> None:
        for names, matrix in block.matrices:
            group = self.matrices.get(names)
            if group is None:
                group = self.matrices[names] = ([], [])
            group[0].append(self.rows)
            group[1].append(matrix)
        if block.rows == 1:  # the common one-row request: one append per column
            self._add_row(block)
            return
        for name, value in block.shared.items():
            self._column(name).extend([value] * block.rows)
        for name, values in block.per_row.items():
            self._column(name).extend(values)
        self.rows += block.rows

    def _add_row(self, block: Block) -> None:
        rows, columns = self.rows, self.columns
        for name, value in block.shared.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * rows
            elif len(column) < rows:
                column.extend([None] * (rows - len(column)))
            column.append(value)
        for name, values in block.per_row.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * rows
            elif len(column) < rows:
                column.extend([None] * (rows - len(column)))
            column.append(values[0])
        self.rows = rows + 1

    def _column(self, name: str) -> list[Any]:
        """The column, padded with nulls for the earlier rows that did not have it."""
        column = self.columns.get(name)
        if column is None:
            column = self.columns[name] = []
        if len(column) < self.rows:
            column.extend([None] * (self.rows - len(column)))
        return column

    def to_table(self) -> pa.Table:
        packed = self._unpacked()
        names = _ordered(self.kind, list(dict.fromkeys([*self.columns, *packed])))
        arrays = []
        for name in names:
            values = self.columns.get(name)
            column = packed.get(name)
            if values is None and column is not None:
                arrays.append(pa.array(column, type=pa.float64(), from_pandas=True))  # NaN: null
                continue
            assert values is not None
            values.extend([None] * (self.rows - len(values)))
            if column is not None:  # the same input logged both ways in one batch (rare)
                for i in np.flatnonzero(~np.isnan(column)).tolist():
                    values[i] = float(column[i])
            arrays.append(_array(name, values))
        return pa.table(arrays, names=names)

    def _unpacked(self) -> dict[str, Matrix]:
        """Every matrix input column, full length, NaN on the rows that did not have it."""
        out: dict[str, Matrix] = {}
        for names, (starts, matrices) in self.matrices.items():
            width = len(names)
            stacked = np.frombuffer(b"".join(matrices), dtype=FLOAT64).reshape(-1, width)
            row_bytes = FLOAT64.itemsize * width
            lengths = np.fromiter(
                (len(m) // row_bytes for m in matrices), dtype=np.int64, count=len(matrices)
            )
            ends = np.cumsum(lengths)
            # the table row of each stacked row: its matrix's first row + its place in it
            shift = np.asarray(starts, dtype=np.int64) - (ends - lengths)
            positions = np.repeat(shift, lengths) + np.arange(len(stacked))
            contiguous = len(stacked) == self.rows
            for j, name in enumerate(names):
                if contiguous and name not in out:
                    out[name] = np.ascontiguousarray(stacked[:, j])
                    continue
                column = out.get(name)
                if column is None:
                    column = out[name] = np.full(self.rows, np.nan)
                column[positions] = stacked[:, j]
        return out


Key = tuple[str, str, str]  # deployment, kind, day


def batches(lines: Iterable[bytes | memoryview]) -> tuple[dict[Key, Batch], int]:
    """Group decoded journal lines into batches; also returns how many records were read."""
    out: dict[Key, Batch] = {}
    records = 0
    for line in lines:
        try:
            item = orjson.loads(line)
            kind = item[0]
        except (orjson.JSONDecodeError, IndexError, KeyError, TypeError):
            continue  # a line torn by a failing disk: never acknowledged
        # 11: a failed request's status; 12: the status and the optional facts
        if kind == PREDICTION and len(item) in (10, 11, 12):
            block = _prediction_block(item)
            kind_name = PREDICTIONS
        elif kind == FEEDBACK and len(item) in (5, 6, 7):  # 6: a re-label's version; 7: facts
            block = _feedback_block(item)
            kind_name = FEEDBACK_KIND
        else:
            continue
        records += 1
        key = (block.shared["deployment"], kind_name, day_of(block.shared["time"]))
        batch = out.get(key)
        if batch is None:
            batch = out[key] = Batch(kind_name)
        batch.add_block(block)
    return out, records


def day_of(at: float) -> str:
    return _day(int(at // 86_400))


@functools.lru_cache(maxsize=64)
def _day(number: int) -> str:
    """The UTC date of day `number` since the epoch (cached: a flush spans a day or two)."""
    return datetime.fromtimestamp(number * 86_400, UTC).strftime("%Y-%m-%d")


def _prediction_block(item: list[Any]) -> Block:
    head, tail = item[:10], item[10:]  # the tail holds the status, then the optional facts
    _, deployment, request_id, model, inputs, outputs, probabilities, latency, shadow, at = head
    status = tail[0] if tail else OK_STATUS
    extra = tail[1] if len(tail) > 1 and isinstance(tail[1], dict) else {}
    matrix = _matrix_of(inputs)
    table = None if matrix is not None else _table_of(inputs)
    inputs = inputs if isinstance(inputs, list) else [inputs]
    outputs = outputs if isinstance(outputs, list) else [outputs]
    probabilities = probabilities if isinstance(probabilities, list) else []
    if matrix is not None:
        rows = max(_packed_rows(matrix), len(outputs), 1)
    else:
        rows = max(len(table[1]) if table else len(inputs), len(outputs), 1)
    shared = {
        "request_id": _str(request_id),
        "time": _time(at),
        "deployment": _str(deployment),
        "model": _str(model),
        "shadow": bool(shadow),
        "latency_ms": latency if isinstance(latency, int | float) else None,
        "status": status if _is_int(status) else None,
    }
    if "event_time" in extra:
        shared["event_time"] = _event_time(extra["event_time"])
    per_row: dict[str, list[Any]] = {
        "row": list(range(rows)),
        "prediction": _padded(outputs, rows),
    }
    unseen = extra.get("unseen")
    if isinstance(unseen, list):
        per_row[UNSEEN] = _padded(unseen, rows)
    packed = []
    proba = _probability_matrix(probabilities, rows)
    if proba is not None:
        packed.append(proba)
    else:
        per_row.update(_probability_columns(probabilities, rows))
    if matrix is not None:
        packed.append(matrix)
    elif table is not None:
        per_row.update(_table_columns(*table, rows))
    else:
        per_row.update(_input_columns(inputs, rows))
    return Block(rows, shared, per_row, tuple(packed))


def _matrix_of(inputs: Any) -> Packed | None:
    """`{"columns": [...], "float64": "<hex>"}` as (`in_<name>` columns, the values' bytes),
    or None unless well formed (then the inputs are kept as any other JSON)."""
    if not isinstance(inputs, dict) or inputs.keys() != {"columns", MATRIX_KEY}:
        return None
    names, text = inputs["columns"], inputs[MATRIX_KEY]
    if not isinstance(names, list) or not isinstance(text, str):
        return None
    prefixed = _input_names(names)
    if prefixed is None:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    if len(raw) % (FLOAT64.itemsize * len(prefixed)):
        return None
    return prefixed, raw


def _packed_rows(packed: Packed) -> int:
    return len(packed[1]) // (FLOAT64.itemsize * len(packed[0]))


def _input_names(names: list[Any]) -> Names | None:
    """The `in_<name>` columns of a matrix's column list; None unless distinct strings.
    Every record of a model repeats the same list: it is checked once."""
    try:
        key = tuple(names)
        prefixed = _PREFIXED.get(key, ())
    except TypeError:  # an unhashable name (a list, an object)
        return None
    if prefixed != ():
        return prefixed
    ok = bool(names) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
    prefixed = tuple(INPUT_PREFIX + n for n in names) if ok else None
    if len(_PREFIXED) < 256:
        _PREFIXED[key] = prefixed
    return prefixed


def _table_of(inputs: Any) -> tuple[list[str], list[list[Any]]] | None:
    """`{"columns": [...], "rows": [[...]]}` as (names, rows) when well formed, else None."""
    if not isinstance(inputs, dict) or inputs.keys() != {"columns", "rows"}:
        return None
    names, rows = inputs["columns"], inputs["rows"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    width = len(names)
    if not isinstance(rows, list) or not all(
        isinstance(row, list) and len(row) == width for row in rows
    ):
        return None
    return names, rows


def _table_columns(names: list[str], table: list[list[Any]], rows: int) -> dict[str, list[Any]]:
    """`in_<name>` columns from rows of values, transposed in one step."""
    columns = list(zip(*table, strict=True)) if table else [() for _ in names]
    pad = [None] * (rows - len(table))
    return {f"in_{name}": [*values, *pad] for name, values in zip(names, columns, strict=True)}


def _padded(values: list[Any], rows: int) -> list[Any]:
    return values[:rows] + [None] * (rows - len(values)) if len(values) != rows else values


@functools.lru_cache(maxsize=16)
def _probability_names(width: int) -> Names:
    return tuple(f"proba_{j}" for j in range(width))


def _probability_matrix(probabilities: list[Any], rows: int) -> Packed | None:
    """The common case of many rows, in one numpy call: a list of numbers per row, all of
    one width (a few rows go the plain way: numpy's call costs more than it saves)."""
    if rows < PACKED_PROBABILITY_ROWS or len(probabilities) != rows:
        return None
    try:
        values = np.array(probabilities)
    except ValueError:  # ragged
        return None
    if values.ndim != 2 or values.dtype.kind not in "fi" or values.shape[1] == 0:
        return None
    return _probability_names(values.shape[1]), values.astype(FLOAT64, copy=False).tobytes()


def _probability_columns(probabilities: list[Any], rows: int) -> dict[str, list[Any]]:
    """`proba_<j>` columns; a row without probabilities (or a non-number) holds null."""
    width = max((len(p) for p in probabilities if isinstance(p, list)), default=0)
    columns: dict[str, list[Any]] = {f"proba_{j}": [None] * rows for j in range(width)}
    for i, proba in enumerate(probabilities[:rows]):
        if isinstance(proba, list):
            for j, p in enumerate(proba):
                columns[f"proba_{j}"][i] = p if isinstance(p, int | float) else None
    return columns


def _input_columns(inputs: list[Any], rows: int) -> dict[str, list[Any]]:
    """`in_<name>` columns from the rows' feature dicts (a non-dict row is `in_value`)."""
    if rows == 1 and len(inputs) == 1 and isinstance(inputs[0], dict):
        return {f"in_{name}": [value] for name, value in inputs[0].items()}
    features = [value if isinstance(value, dict) else {"value": value} for value in inputs[:rows]]
    features += [{}] * (rows - len(features))
    names = dict.fromkeys(name for row in features for name in row)
    return {f"in_{name}": [row.get(name) for row in features] for name in names}


def _feedback_block(item: list[Any]) -> Block:
    _, deployment, request_id, label, at, *rest = item
    version = rest[0] if rest and _is_version(rest[0]) else 1
    shared = {
        "request_id": _str(request_id),
        "time": _time(at),
        "deployment": _str(deployment),
        "version": version,
    }
    extra = rest[1] if len(rest) > 1 and isinstance(rest[1], dict) else {}
    if "event_time" in extra:
        shared["event_time"] = _event_time(extra["event_time"])
    if isinstance(label, list):  # one label per row of the request
        return Block(len(label), shared, {"row": list(range(len(label))), "label": label})
    return Block(1, shared, {"row": [None], "label": [label]})


def _str(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _is_version(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**62


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1000


def _event_time(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None  # unreadable: the row counts at its arrival time


def _time(at: Any) -> float:
    if isinstance(at, int | float) and not isinstance(at, bool) and math.isfinite(at):
        return float(at)
    return time.time()  # a record without a usable time is filed under the flush time


def _ordered(kind: str, names: list[str]) -> list[str]:
    base = PREDICTION_COLUMNS if kind == PREDICTIONS else FEEDBACK_COLUMNS
    proba = sorted((n for n in names if n.startswith("proba_")), key=lambda n: int(n[6:]))
    rest = [n for n in names if n not in base and not n.startswith("proba_")]
    return base + proba + rest


FIXED_TYPES = {
    "request_id": pa.string(),
    "time": pa.float64(),
    "deployment": pa.string(),
    "model": pa.string(),
    "shadow": pa.bool_(),
    "latency_ms": pa.float64(),
    "status": pa.int32(),
    "row": pa.int64(),
    "version": pa.int64(),
    "event_time": pa.float64(),
}


def _array(name: str, values: list[Any]) -> pa.Array:
    """A typed column; values of mixed or nested types are kept as JSON text."""
    if name in FIXED_TYPES:
        return pa.array(values, type=FIXED_TYPES[name])
    if name.startswith("proba_"):
        return pa.array(values, type=pa.float64())
    try:
        array = pa.array(values)  # an all-null column stays null-typed: it unifies
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        array = None
    if array is not None and not _nested(array.type):
        return array
    return pa.array(
        [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values],
        type=pa.string(),
    )


def _nested(kind: pa.DataType) -> bool:
    """Dicts become structs and lists become lists in Arrow: those are stored as JSON text."""
    return bool(
        pa.types.is_struct(kind)
        or pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_map(kind)
    )
