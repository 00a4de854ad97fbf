"""Errors as JSON: every refusal of the control plane is `{error, detail, hint}`.

`error` is a stable code a program can switch on (the remote SDK raises the matching
loopml exception from it), `detail` says what is wrong and `hint` how to fix it. loopml's
own messages already read "what is wrong; how to fix it", so the hint is the part after
the first "; " when there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from loopml.errors import (
    ArtifactCorruptedError,
    AuditChainError,
    ConfigError,
    ConflictError,
    LoopmlError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
    ValidationError,
)

log = logging.getLogger("loopml.server")
JSON = "application/json"

#: loopml exception → (HTTP status, error code); the most specific class first.
ERROR_CODES: tuple[tuple[type[LoopmlError], int, str], ...] = (
    (ValidationError, 422, "invalid"),
    (NotFoundError, 404, "not_found"),
    (PolicyViolationError, 403, "policy_violation"),
    (PermissionDeniedError, 403, "forbidden"),
    (ConflictError, 409, "conflict"),
    (AuditChainError, 409, "audit_chain_broken"),
    (ArtifactCorruptedError, 500, "artifact_corrupted"),
    (ConfigError, 500, "server_misconfigured"),
)
DEFAULT_HINTS = {
    "invalid": "correct the request; /openapi.json describes every field",
    "not_found": "list what exists with the matching GET route (e.g. GET /api/v1/runs)",
    "forbidden": "ask an admin for a token of a principal with the role this route needs",
    "policy_violation": "request the approval the policy asks for, or an admin overrides it "
    "with a reason",
    "conflict": "read the current state and try again with a request that fits it",
    "unauthenticated": "send 'Authorization: Bearer <token>'; an admin creates tokens with "
    "`loopml auth token create NAME`",
    "malformed": "send a valid JSON document with Content-Type: application/json",
    "too_large": "send less per request (split a batch), or stream files to the upload routes",
    "internal": "the server log has the details; report it if it persists",
}
_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "hint": {"type": "string"},
    },
    "required": ["error", "detail", "hint"],
}
ERROR_CONTENT = {JSON: {"schema": _SCHEMA}}


class ApiError(HTTPException):
    """A refusal decided at the boundary (authentication, limits, malformed input); an
    HTTPException so that FastAPI lets it through while it reads a body."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, headers)
        self.status = status
        self.error = error
        self.detail = detail
        self.hint = hint or DEFAULT_HINTS.get(error, "")
        self.headers = headers


def unauthenticated(detail: str) -> ApiError:
    return ApiError(401, "unauthenticated", detail, headers={"www-authenticate": "Bearer"})


def error_response(
    status: int,
    error: str,
    detail: str,
    hint: str,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body = {"error": error, "detail": detail, "hint": hint, **(extra or {})}
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def classify(exc: LoopmlError) -> tuple[int, str]:
    for kind, status, code in ERROR_CODES:
        if isinstance(exc, kind):
            return status, code
    return 400, "refused"


def split_hint(message: str, code: str) -> tuple[str, str]:
    """(detail, hint): loopml messages put the fix after the first '; '."""
    _, sep, fix = message.partition("; ")
    return message, fix if sep and fix else DEFAULT_HINTS.get(code, "")


async def loopml_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoopmlError)
    status, code = classify(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    detail, hint = split_hint(str(exc), code)
    absorbed = getattr(exc, "absorbed", None)  # a stream gap says where to resume
    extra = {"absorbed": absorbed} if isinstance(absorbed, int) else None
    return error_response(status, code, detail, hint, extra=extra)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.detail, exc.hint, exc.headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's request validation: a JSON body that does not parse is 400, one that
    parses but does not fit the schema 422; each problem named by where it is."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    malformed = False
    for item in exc.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
        malformed = malformed or item.get("type") == "json_invalid"
    code = "malformed" if malformed else "invalid"
    detail = "; ".join(problems)[:2000] or "the request does not fit the schema"
    return error_response(400 if malformed else 422, code, detail, DEFAULT_HINTS[code])


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, method not allowed) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(
            404,
            "not_found",
            f"no route {request.method} {request.url.path}",
            "the API lives under /api/v1; /docs and /openapi.json list every route",
        )
    if exc.status_code == 405:
        allowed = ", ".join(allowed_methods(request))
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}; it allows {allowed}",
            "/openapi.json lists the methods of every route",
            headers={"allow": allowed},
        )
    return error_response(exc.status_code, "refused", str(exc.detail), "")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route offers on the request's path (Starlette's `Allow` names
    only the first route's, and a path may be served by several routes)."""
    methods: set[str] = set()
    for route in request.app.routes:
        offered = getattr(route, "methods", None)
        if offered:
            match, _ = route.matches({**request.scope, "method": sorted(offered)[0]})
            if match == Match.FULL:
                methods |= set(offered)
    return sorted(methods)


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal", "the server failed to answer this request", DEFAULT_HINTS["internal"]
    )
