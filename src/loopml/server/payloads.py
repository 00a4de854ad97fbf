"""JSON in and out: records become plain documents, answers are encoded with orjson."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from starlette.responses import Response

from loopml.server.errors import ApiError

JSON = "application/json"


_PLAIN = frozenset({str, int, float, bool, type(None)})


def document(obj: Any) -> Any:
    """A record as a JSON-ready value: its `to_dict()`, a dataclass's fields, or itself.

    Plain values, lists and dicts (most of a large answer) take a short path."""
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is dict:
        return {
            key: value if type(value) in _PLAIN else document(value) for key, value in obj.items()
        }
    if kind is list:
        return [item if type(item) in _PLAIN else document(item) for item in obj]
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, list | tuple):
        return [document(item) for item in obj]
    if isinstance(obj, dict):
        return {key: document(value) for key, value in obj.items()}
    return obj


def _fallback(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = orjson.dumps(
        document(data),
        default=_fallback,
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )
    return Response(body, status_code=status, media_type=JSON, headers=dict(headers or {}))


def plain_json_response(data: Any, status: int = 200) -> Response:
    """An answer built of dicts, lists and plain values only (no records to convert): it is
    encoded as it is, without the walk `json_response` makes."""
    body = orjson.dumps(
        data, default=_fallback, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    )
    return Response(body, status_code=status, media_type=JSON)


def decode_json(body: bytes) -> Any:
    """A JSON body read by hand (the hot routes skip FastAPI's model layer): 400 when it
    does not parse."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed", f"the body is not valid JSON ({exc})") from None


def require_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", f"{what} must be a JSON object, got {type(data).__name__}")
    return data
