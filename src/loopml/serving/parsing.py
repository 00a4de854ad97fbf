"""Request bodies: every accepted JSON layout, decoded into one of two shapes.

Accepted (the MLflow `/invocations` layouts included, so MLflow clients work unchanged):

* `{"records": [{...}, ...]}`, a bare list of records, `{"dataframe_records": [...]}`
* `{"columns": [...], "data": [[...], ...]}`, `{"dataframe_split": {"columns", "data"}}`
* `{"instances": [...]}` (records, or rows in signature order)
* `{"inputs": {"col": [...], ...}}` (columns) or `{"inputs": [...]}` (as instances)

Nothing here knows the model: `validation.py` lines the payload up with a signature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from loopml.serving.errors import ServingError

FORMATS_HINT = (
    'send {"records": [{...}]}, a list of records, {"columns": [...], "data": [[...]]}, '
    "or an MLflow body (dataframe_split, dataframe_records, instances, inputs)"
)


@dataclass(frozen=True, slots=True)
class Records:
    """One JSON object per row, keyed by column name."""

    records: list[Any]

    def __len__(self) -> int:
        return len(self.records)

    def first_value(self, column: str) -> Any:
        first = self.records[0]
        return first.get(column) if isinstance(first, dict) else None


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of values; `columns` names their order, None meaning the signature's order."""

    columns: list[str] | None
    rows: list[Any]

    def __len__(self) -> int:
        return len(self.rows)

    def first_value(self, column: str) -> Any:
        if self.columns is None or column not in self.columns:
            return None
        first = self.rows[0]
        position = self.columns.index(column)
        return first[position] if isinstance(first, list) and position < len(first) else None


Payload = Records | Table


class _NonFinite(ValueError):
    """A NaN or Infinity literal in a body otherwise valid for Python's lenient reader."""


def _refuse_constant(literal: str) -> Any:
    raise _NonFinite(literal)


def decode_json(body: bytes) -> Any:
    """The JSON document in `body`: HTTP 400 when it is not JSON, 422 when it holds a
    non-finite number (NaN, Infinity or one beyond the range of a double).

    orjson itself refuses those; the lenient reader only tells the two cases apart, so that
    a pandas-written `NaN` gets a message saying to send null.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        non_finite = "infinity" in str(exc)
        if not non_finite and (b"NaN" in body or b"Infinity" in body):
            try:
                json.loads(body, parse_constant=_refuse_constant)
            except _NonFinite:
                non_finite = True
            except (ValueError, RecursionError):
                pass
        if non_finite:
            raise ServingError.one(
                422,
                "body",
                "the body holds a non-finite number (NaN, Infinity or beyond ±1.8e308)",
                "send null for a missing value and finite numbers otherwise",
            ) from None
        raise ServingError.one(
            400, "body", f"the body is not valid JSON ({exc})", "send a UTF-8 JSON document"
        ) from None


def parse_payload(body: bytes) -> Payload:
    """Decode a predict body; HTTP 400 for bad JSON, 422 for a layout it does not know."""
    return payload_of(decode_json(body))


# Top-level keys that each name a whole layout; `columns` and `data` together are one.
_LAYOUT_KEYS = ("records", "dataframe_records", "dataframe_split", "instances", "inputs")
_KNOWN_KEYS = frozenset({*_LAYOUT_KEYS, "columns", "data"})


def payload_of(data: Any) -> Payload:
    if isinstance(data, list):
        return _rows_or_records(data, "body")
    if not isinstance(data, dict):
        raise _layout("body", f"expected a JSON object or list, got {_kind(data)}")
    unknown = [str(key) for key in data if key not in _KNOWN_KEYS]
    if unknown:
        raise _layout(unknown[0], "unexpected field at the top of the body")
    layouts = [key for key in _LAYOUT_KEYS if key in data]
    if "data" in data or "columns" in data:
        layouts.append("columns/data")
    if len(layouts) > 1:
        raise _layout(
            "body", f"the body is ambiguous: it holds several layouts ({', '.join(layouts)})"
        )
    if "records" in data:
        return _records(data["records"], "records")
    if "dataframe_records" in data:
        return _records(data["dataframe_records"], "dataframe_records")
    if "dataframe_split" in data:
        split = data["dataframe_split"]
        if not isinstance(split, dict):
            raise _layout("dataframe_split", f"expected an object, got {_kind(split)}")
        return _table(split.get("columns"), split.get("data"), "dataframe_split")
    if "instances" in data:
        return _rows_or_records(data["instances"], "instances")
    if "inputs" in data:
        inputs = data["inputs"]
        if isinstance(inputs, dict):
            return _column_dict(inputs)
        return _rows_or_records(inputs, "inputs")
    if "data" in data:
        return _table(data.get("columns"), data["data"], "data")
    if "columns" in data:
        raise _layout("data", "columns were sent without data")
    raise _layout("body", "no known layout (the body is an empty object)")


def _records(value: Any, where: str) -> Records:
    if not isinstance(value, list):
        raise _layout(where, f"expected a list of records, got {_kind(value)}")
    if not value:
        raise _layout(where, "no records to score")
    return Records(value)


def _rows_or_records(value: Any, where: str) -> Payload:
    if not isinstance(value, list):
        raise _layout(where, f"expected a list, got {_kind(value)}")
    if not value:
        raise _layout(where, "no records to score")
    if all(isinstance(item, dict) for item in value):
        return Records(value)
    if all(isinstance(item, list) for item in value):
        return Table(None, value)
    raise _layout(where, "expected every item to be a record (object) or every one a row (list)")


def _table(columns: Any, rows: Any, where: str) -> Table:
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise _layout(f"{where}.columns", "expected a list of column names (strings)")
    if not isinstance(rows, list):
        raise _layout(f"{where}.data", f"expected a list of rows, got {_kind(rows)}")
    if not rows:
        raise _layout(f"{where}.data", "no rows to score")
    if not all(isinstance(row, list) for row in rows):
        raise _layout(f"{where}.data", "expected every row to be a list of values")
    return Table(columns, rows)


def _column_dict(inputs: dict[str, Any]) -> Table:
    """`{"col": [v0, v1], ...}` (or one value per column for one row) as rows."""
    if not inputs:
        raise _layout("inputs", "no columns to score")
    columns = list(inputs)
    values = list(inputs.values())
    if not any(isinstance(v, list) for v in values):
        return Table(columns, [values])
    lengths = {len(v) for v in values if isinstance(v, list)}
    if len(lengths) != 1 or not all(isinstance(v, list) for v in values):
        raise _layout("inputs", "every column must be a list of the same length")
    if 0 in lengths:
        raise _layout("inputs", "no rows to score")
    return Table(columns, [list(row) for row in zip(*values, strict=True)])


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _layout(field: str, problem: str) -> ServingError:
    return ServingError.one(422, field, problem, FORMATS_HINT)
