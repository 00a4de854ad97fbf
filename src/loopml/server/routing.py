"""Routes that cannot be added without saying who may call them.

Every route of the REST API is a `GuardedRoute`: it must declare the least role it needs
(`viewer`, `editor`, `approver` or `admin`), and before anything else — before the body is
read or parsed — it resolves the request's bearer token to a principal (401 without a
valid one), refuses a principal below that role (403), and binds the principal for the
domain services, which check roles again as they do in local mode. The body is then
read through a counter that refuses more than the route's limit (413).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Message, Receive

from loopml.errors import PermissionDeniedError
from loopml.server.errors import ERROR_CONTENT, ApiError, unauthenticated
from loopml.server.identity import bearer_token, bind, unbind
from loopml.server.state import ServerState
from loopml.store.principal import ROLES, Principal

ROLE_KEY = "x-loopml-min-role"
LIMIT_KEY = "x-loopml-body"
UPLOAD = "streamed-upload"  # the body is a file: the upload limit applies, not the JSON one
SECURITY: list[dict[str, list[str]]] = [{"bearerToken": []}]
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": ERROR_CONTENT}
    for status, text in (
        (400, "Malformed request"),
        (401, "No valid token"),
        (403, "The principal's role does not allow this"),
        (404, "No such object"),
        (409, "Conflicts with what is stored"),
        (413, "Body too large"),
        (422, "Invalid request"),
    )
}


class GuardedRoute(APIRoute):
    """An API route with a declared least role and body limit (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = kwargs.get("openapi_extra") or {}
        role = extra.get(ROLE_KEY)
        if role not in ROLES:
            raise ValueError(
                f"route {path} must declare the least role it needs: openapi_extra "
                f"{{{ROLE_KEY!r}: one of {', '.join(ROLES)}}} (use `Api.route`)"
            )
        self.min_role: str = role
        self.upload: bool = bool(extra.get(LIMIT_KEY) == UPLOAD)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()
        role = self.min_role
        upload = self.upload

        async def guarded(request: Request) -> Response:
            state: ServerState = request.app.state.server
            principal = await authenticate(state, request.headers.get("authorization"))
            if not principal.at_least(role):
                raise ApiError(
                    403,
                    "forbidden",
                    f"{principal.name} ({principal.role}) may not {request.method} "
                    f"{request.url.path}: it needs the {role} role or higher",
                    "ask an admin for a token of a principal with that role "
                    "(`loopml auth principal create NAME --role ROLE`)",
                )
            options = state.options
            limit = options.max_upload_bytes if upload else options.max_body_bytes
            limited = _JsonRequest(request.scope, _limited(request.receive, request, limit))
            token = bind(principal)
            try:
                return await inner(limited)
            finally:
                unbind(token)

        return guarded


class _JsonRequest(Request):
    """A request whose JSON body FastAPI reads with orjson: several times faster than
    `json.loads` on a batch of points; its decode error is a `json.JSONDecodeError`, which
    FastAPI answers as it does for `json.loads` (422 json_invalid)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


async def authenticate(state: ServerState, authorization: str | None) -> Principal:
    """The principal of a request's bearer token; 401 when it has none or a bad one."""
    token = bearer_token(authorization)
    if token is None:
        raise unauthenticated("this request carries no API token")
    principal = state.sessions.cached(token)
    if principal is not None:
        return principal
    try:
        return await run_in_threadpool(state.sessions.resolve, token)
    except PermissionDeniedError as exc:
        raise unauthenticated(str(exc)) from None


def _limited(receive: Receive, request: Request, limit: int) -> Receive:
    """`receive` that refuses a body past `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return counted


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the request body is larger than {limit} bytes")


class Api:
    """Declares the routes of one area, each with its least role; `mount` adds them to an
    app under the versioned prefix (as plain routes, so the app's route table lists each
    with its full path)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[dict[str, Any]] = []

    def route(
        self,
        method: str,
        path: str,
        endpoint: Callable[..., Any],
        *,
        role: str,
        status_code: int = 200,
        upload: bool = False,
        request_body: dict[str, Any] | None = None,
        responses: dict[int | str, dict[str, Any]] | None = None,
        summary: str | None = None,
    ) -> None:
        extra: dict[str, Any] = {ROLE_KEY: role, "security": SECURITY}
        if upload:
            extra[LIMIT_KEY] = UPLOAD
        if request_body is not None:
            extra["requestBody"] = request_body
        self.routes.append(
            {
                "path": path,
                "endpoint": endpoint,
                "methods": [method],
                "status_code": status_code,
                "tags": [self.tag],
                "openapi_extra": extra,
                "responses": {**REFUSALS, **(responses or {})},
                "summary": summary,
            }
        )

    def mount(self, app: FastAPI, prefix: str) -> None:
        for spec in self.routes:
            app.router.add_api_route(
                **{**spec, "path": prefix + spec["path"]}, route_class_override=GuardedRoute
            )


def guarded_routes(routes: Sequence[Any]) -> list[GuardedRoute]:
    """The guarded routes of an app (what the role matrix test walks)."""
    return [r for r in routes if isinstance(r, GuardedRoute)]
