"""Refusals in the shape the MLflow client reads: `{error_code, message}`.

The client raises `RestException(error_code, message)` from that body and switches on the
code (e.g. `get_experiment_by_name` returns None on RESOURCE_DOES_NOT_EXIST), so every
refusal on an MLflow path carries MLflow's code beside loopml's `{error, detail, hint}`,
and its message holds the hint, since that is the only text the client shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from loopml.server.errors import ApiError

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")

#: loopml's error code → MLflow's.
CODES = {
    "invalid": "INVALID_PARAMETER_VALUE",
    "malformed": "MALFORMED_REQUEST",
    "not_found": "RESOURCE_DOES_NOT_EXIST",
    "forbidden": "PERMISSION_DENIED",
    "unauthenticated": "UNAUTHENTICATED",
    "conflict": "INVALID_PARAMETER_VALUE",
    "already_exists": "RESOURCE_ALREADY_EXISTS",
    "approval_required": "PERMISSION_DENIED",
    "too_large": "REQUEST_LIMIT_EXCEEDED",
    "digest_mismatch": "INVALID_PARAMETER_VALUE",
    "method_not_allowed": "ENDPOINT_NOT_FOUND",
    "internal": "INTERNAL_ERROR",
}
Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_mlflow_path(path: str) -> bool:
    return path.startswith(PREFIXES)


def mlflow_errors(handler: Handler) -> Handler:
    """`handler` whose answers on MLflow paths also carry `error_code` and `message`."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer = await handler(request, exc)
        if not is_mlflow_path(request.url.path):
            return answer
        body = orjson.loads(bytes(answer.body))
        code = body.get("error", "internal")
        detail, hint = body.get("detail", ""), body.get("hint", "")
        body["error_code"] = CODES.get(code, "BAD_REQUEST")
        unrouted = isinstance(exc, StarletteHTTPException) and not isinstance(exc, ApiError)
        if unrouted and answer.status_code == 404:  # an endpoint loopml does not serve
            body["error_code"] = "ENDPOINT_NOT_FOUND"
            hint = "docs/mlflow.md lists the MLflow endpoints loopml serves"
        body["message"] = f"{detail} (loopml: {hint})" if hint and hint not in detail else detail
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        return Response(
            orjson.dumps(body), answer.status_code, headers, media_type="application/json"
        )

    return handle
