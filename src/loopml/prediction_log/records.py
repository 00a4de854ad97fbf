"""What the prediction log stores, and its one-line journal encoding.

A journal line is a compact JSON array, encoded with orjson on the request path:
`["p", deployment, request_id, model, inputs, outputs, probabilities, latency_ms, shadow, at]`
for a prediction and `["f", deployment, request_id, label, at]` for feedback (a re-label
adds its version, 2 and up, as a sixth element). A failed request adds its HTTP status as
an eleventh element; answered requests leave it out, so their lines stay readable by older
versions during a rolling upgrade. `inputs` is a list of `{column: value}` objects, or, as
the serving app writes it, `{"columns": [...], "rows": [[...], ...]}` (`InputTable`): a
third of the bytes for a 30-column request and no dict per row on the request path; a
release older than that format files such a line's inputs as one JSON text. Values JSON
cannot hold are stored as their `str()`, NaN and infinities as null; encoding never fails.

A model whose inputs are all `float` columns logs the very matrix it was fed
(`InputMatrix`): `{"columns": [...], "float64": "<hex>"}`, the rows' little-endian
float64 values row by row in hexadecimal, NaN for a null. Formatting and parsing thousands
of floats as JSON text cost most of a 100-row request's logging; hex costs a fifth of that
(base64 is smaller but three times slower to decode), and the segment's columns are then
doubles whatever number literal was sent.

Optional facts ride in one trailing object, present only when there is one: an event
time (`{"event_time": …}`, when the client said when the event happened) and, for a
prediction, the rows' unseen categories (`{"unseen": [null, {"season": "monsoon"}]}`).
A prediction line then always has its status (eleventh) and the object (twelfth), a
feedback line its version (sixth) and the object (seventh).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
PREDICTION = "p"
FEEDBACK = "f"
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
OK_STATUS = 200  # the status of every line without one


@dataclass(frozen=True, slots=True)
class InputTable:
    """A request's rows as values in `columns` order: how the serving app logs inputs."""

    columns: list[str]
    rows: Sequence[Sequence[Any]]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True)
class InputMatrix:
    """A request's rows as the float64 matrix the model was fed, columns in `columns` order."""

    columns: list[str]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.values)

    def encoded(self) -> dict[str, Any]:
        raw = np.ascontiguousarray(self.values, dtype=FLOAT64).tobytes()
        return {"columns": self.columns, MATRIX_KEY: raw.hex()}


MATRIX_KEY = "float64"
FLOAT64 = np.dtype("<f8")


@dataclass(frozen=True)
class PredictionRecord:
    """One request: its inputs (a dict per row), outputs and timing.

    A failed request has its HTTP `status` (>= 400), no inputs and no outputs; it counts
    for the error rate and is never read as a prediction.
    """

    deployment: str
    request_id: str
    model: str
    inputs: list[dict[str, Any]] | InputTable | InputMatrix
    outputs: list[Any]
    probabilities: list[list[float]] | None
    latency_ms: float
    shadow: bool = False
    at: float = field(default_factory=time.time)
    status: int = OK_STATUS
    event_time: float | None = None  # when the event happened, if the client said so
    unseen: list[dict[str, Any] | None] | None = None  # per row: unseen categories, if flagged


def encode_prediction(rec: PredictionRecord) -> bytes:
    """The journal line of a prediction (or of a failed request)."""
    inputs = rec.inputs
    if isinstance(inputs, InputMatrix):
        inputs = inputs.encoded()  # type: ignore[assignment]
    elif isinstance(inputs, InputTable):
        inputs = {"columns": inputs.columns, "rows": inputs.rows}  # type: ignore[assignment]
    line: list[Any] = [
        PREDICTION,
        rec.deployment,
        rec.request_id,
        rec.model,
        inputs,
        rec.outputs,
        rec.probabilities,
        rec.latency_ms,
        rec.shadow,
        rec.at,
    ]
    if rec.event_time is None and rec.unseen is None:  # the common line: nothing more
        if rec.status != OK_STATUS:
            line.append(rec.status)
        return encode(line)
    extra: dict[str, Any] = {}
    if rec.event_time is not None:
        extra["event_time"] = rec.event_time
    if rec.unseen is not None:
        extra["unseen"] = rec.unseen
    line += [rec.status, extra]
    return encode(line)


def encode_feedback(
    deployment: str,
    request_id: str,
    label: Any,
    at: float,
    version: int = 1,
    event_time: float | None = None,
) -> bytes:
    """The journal line of a feedback label; a re-label (version > 1) adds its version, an
    event time adds the version and `{"event_time": …}`."""
    line = [FEEDBACK, deployment, request_id, label, at]
    if version != 1 or event_time is not None:
        line.append(version)
    if event_time is not None:
        line.append({"event_time": event_time})
    return encode(line)


def encode(value: list[Any]) -> bytes:
    """orjson with `str()` for unknown types; a slow, sanitising path if that still fails."""
    try:
        return orjson.dumps(value, default=str, option=OPTIONS)
    except Exception:  # big ints, failing __str__, cycles: the request must still be logged
        return orjson.dumps(sanitize(value, 0), option=OPTIONS)


def sanitize(value: Any, depth: int) -> Any:
    """A JSON-safe copy of `value`: anything unusual becomes a string."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > 32:
        return _text(value)
    if isinstance(value, dict):
        return {_text(k): sanitize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v, depth + 1) for v in value]
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except Exception:
        return _text(value)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def row_count(rec: PredictionRecord) -> int:
    """How many table rows a record becomes (for the flush threshold; never raises)."""
    try:
        return max(len(rec.inputs), len(rec.outputs), 1)
    except TypeError:
        return 1
