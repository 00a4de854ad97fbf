"""Journal lines to Arrow tables: one per deployment, kind and (UTC) day."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from loopml.predictions.records import FEEDBACK, OK_STATUS, PREDICTION

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
FEEDBACK_COLUMNS = ["request_id", "time", "deployment", "row", "label"]


@dataclass
class Batch:
    """The rows of one (deployment, kind, day), column by column."""

    kind: str
    columns: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    rows: int = 0

    def add(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            column = self.columns[name]
            if len(column) < self.rows:  # a column first seen now: pad earlier rows
                column.extend([None] * (self.rows - len(column)))
            column.append(value)
        self.rows += 1

    def to_table(self) -> pa.Table:
        names = _ordered(self.kind, list(self.columns))
        arrays = []
        for name in names:
            values = self.columns[name]
            values.extend([None] * (self.rows - len(values)))
            arrays.append(_array(name, values))
        return pa.table(arrays, names=names)


Key = tuple[str, str, str]  # deployment, kind, day


def batches(lines: Iterable[bytes]) -> tuple[dict[Key, Batch], int]:
    """Group decoded journal lines into batches; also returns how many records were read."""
    out: dict[Key, Batch] = {}
    records = 0
    for line in lines:
        try:
            item = orjson.loads(line)
            kind = item[0]
        except (orjson.JSONDecodeError, IndexError, KeyError, TypeError):
            continue  # a line torn by a failing disk: never acknowledged
        if kind == PREDICTION and len(item) in (10, 11):  # 11: a failed request's status
            rows = _prediction_rows(item)
            kind_name = PREDICTIONS
        elif kind == FEEDBACK and len(item) == 5:
            rows = _feedback_rows(item)
            kind_name = FEEDBACK_KIND
        else:
            continue
        records += 1
        for row in rows:
            key = (row["deployment"], kind_name, day_of(row["time"]))
            batch = out.get(key)
            if batch is None:
                batch = out[key] = Batch(kind_name)
            batch.add(row)
    return out, records


def day_of(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _prediction_rows(item: list[Any]) -> list[dict[str, Any]]:
    head, tail = item[:10], item[10:]  # the tail holds a failed request's status
    _, deployment, request_id, model, inputs, outputs, probabilities, latency, shadow, at = head
    status = tail[0] if tail else OK_STATUS
    inputs = inputs if isinstance(inputs, list) else [inputs]
    outputs = outputs if isinstance(outputs, list) else [outputs]
    probabilities = probabilities if isinstance(probabilities, list) else []
    base = {
        "request_id": _str(request_id),
        "time": _time(at),
        "deployment": _str(deployment),
        "model": _str(model),
        "shadow": bool(shadow),
        "latency_ms": latency if isinstance(latency, int | float) else None,
        "status": status if _is_int(status) else None,
    }
    rows = []
    for i in range(max(len(inputs), len(outputs), 1)):
        row = dict(base, row=i, prediction=outputs[i] if i < len(outputs) else None)
        proba = probabilities[i] if i < len(probabilities) else None
        if isinstance(proba, list):
            for j, p in enumerate(proba):
                row[f"proba_{j}"] = p if isinstance(p, int | float) else None
        features = inputs[i] if i < len(inputs) else {}
        if not isinstance(features, dict):
            features = {"value": features}
        for name, value in features.items():
            row[f"in_{name}"] = value
        rows.append(row)
    return rows


def _feedback_rows(item: list[Any]) -> list[dict[str, Any]]:
    _, deployment, request_id, label, at = item
    base = {"request_id": _str(request_id), "time": _time(at), "deployment": _str(deployment)}
    if isinstance(label, list):  # one label per row of the request
        return [dict(base, row=i, label=value) for i, value in enumerate(label)]
    return [dict(base, row=None, label=label)]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1000


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
}


def _array(name: str, values: list[Any]) -> pa.Array:
    """A typed column; values of mixed or nested types are kept as JSON text."""
    if name in FIXED_TYPES:
        return pa.array(values, type=FIXED_TYPES[name])
    if name.startswith("proba_"):
        return pa.array(values, type=pa.float64())
    if not any(isinstance(v, dict | list) for v in values):
        try:
            return pa.array(values)  # an all-null column stays null-typed: it unifies
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    return pa.array(
        [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values],
        type=pa.string(),
    )
