"""Reading the fields of an MLflow request: its JSON body (POST) or query (GET).

MLflow's client sends protobuf messages as JSON; a missing required field, or one of the
wrong type, is INVALID_PARAMETER_VALUE naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from loopml.errors import ValidationError
from loopml.server.payloads import decode_json, plain_json_response, require_object
from loopml.server.state import ServerState

Fields = dict[str, Any]
Handler = Callable[[ServerState, Fields], Fields]
Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


def text(fields: Fields, name: str, default: str | None = None) -> str:
    value = fields.get(name, default)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"missing value for required parameter {name!r}")
    return value


def optional_text(fields: Fields, name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"parameter {name!r} must be a string, got {value!r}")
    return value


def integer(fields: Fields, name: str, default: int) -> int:
    value = fields.get(name, default)
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"parameter {name!r} must be an integer, got {value!r}") from None


def run_id(fields: Fields) -> str:
    """MLflow sends the run id as `run_id` and, for old servers, `run_uuid`."""
    return text(fields, "run_id", fields.get("run_uuid"))


def key_values(fields: Fields, name: str) -> dict[str, str]:
    """A list of `{key, value}` objects (tags, params) as a dict, in order."""
    items = fields.get(name) or []
    if not isinstance(items, list):
        raise ValidationError(f"parameter {name!r} must be a list of {{key, value}} objects")
    found: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ValidationError(f"each of {name!r} must be an object with a string 'key'")
        found[item["key"]] = "" if item.get("value") is None else str(item["value"])
    return found


def endpoint(handler: Handler, *, body: bool) -> Endpoint:
    """An async route that reads the fields (body or query) and runs `handler` in a
    worker thread (it calls the domain services, which block)."""

    async def answer(request: Request) -> Response:
        state: ServerState = request.app.state.server
        if body:
            raw = await request.body()
            fields = require_object(decode_json(raw), "the request body") if raw else {}
        else:
            fields = dict(request.query_params)
        # handlers answer with MLflow's documents, already plain JSON (shapes.py)
        return plain_json_response(await run_in_threadpool(handler, state, fields))

    answer.__doc__ = handler.__doc__
    answer.__name__ = handler.__name__
    return answer
