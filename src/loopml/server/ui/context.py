"""Who is looking at a page: the session cookie resolved to a principal on every request,
the same way the API resolves a bearer token; and how a page is served as that principal.

A page handler hands `serve` a function of a `PageContext`; it runs in a worker thread
with the principal bound for the domain services (which check roles as they do for the
API). A missing, altered or expired cookie redirects to the login page; a revoked token
clears the cookie first. Refusals of the services become an error page with the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from loopml.errors import LoopmlError, PermissionDeniedError
from loopml.sdk import Client
from loopml.server.errors import classify, split_hint
from loopml.server.identity import bind, unbind
from loopml.server.state import ServerState
from loopml.server.ui.menus import ExperimentMenu
from loopml.server.ui.render import Renderer
from loopml.server.ui.session import COOKIE_PATH, SESSION_COOKIE, Session, SessionSigner
from loopml.store.principal import Principal

MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class UiState:
    """What the UI sub-app holds: the server's state, the signer and the templates."""

    server: ServerState
    signer: SessionSigner
    renderer: Renderer
    prefix: str
    experiments: ExperimentMenu


@dataclass(frozen=True)
class PageContext:
    """One request's viewer: the principal, its session's CSRF token, the query."""

    request: Request
    principal: Principal
    session: Session
    csrf: str
    ui: UiState

    @property
    def client(self) -> Client:
        return self.ui.server.client

    def render(self, template: str, status: int = 200, **values: object) -> Response:
        return self.ui.renderer.page(template, self, status, **values)

    def redirect(self, path: str) -> Response:
        return RedirectResponse(self.ui.prefix + path, status_code=303)


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def to_login(ui: UiState, request: Request, message: str | None = None) -> Response:
    """A redirect to the login page that comes back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = f"?next={quote(target, safe='')}"
    if message:
        query += f"&message={quote(message, safe='')}"
    response = RedirectResponse(f"{ui.prefix}/login{query}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


async def page_context(request: Request) -> PageContext | Response:
    """The viewer of this request, or the redirect to the login page."""
    ui = ui_state(request)
    session = ui.signer.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return to_login(ui, request)
    sessions = ui.server.sessions
    principal = sessions.cached(session.token)
    if principal is None:
        try:
            principal = await run_in_threadpool(sessions.resolve, session.token)
        except PermissionDeniedError as exc:
            return to_login(ui, request, f"your session ended: {exc}")
    return PageContext(request, principal, session, ui.signer.csrf_token(session), ui)


async def serve(request: Request, build: Callable[[PageContext], Response]) -> Response:
    """Run `build` as the request's principal; service refusals become an error page."""
    found = await page_context(request)
    if isinstance(found, Response):
        return found
    return await run_as(found, build)


async def run_as(ctx: PageContext, build: Callable[[PageContext], Response]) -> Response:
    bound = bind(ctx.principal)
    try:
        return await run_in_threadpool(_guarded, ctx, build)
    finally:
        unbind(bound)


def _guarded(ctx: PageContext, build: Callable[[PageContext], Response]) -> Response:
    try:
        return build(ctx)
    except LoopmlError as exc:
        status, code = classify(exc)
        detail, hint = split_hint(str(exc), code)
        return ctx.render("error.html", status, code=code, detail=detail, hint=hint)


async def read_form(request: Request) -> dict[str, str] | None:
    """A URL-encoded form body (first value of each field); None when it is not one or is
    larger than MAX_FORM_BYTES."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in fields.items()}


async def serve_form(
    request: Request, act: Callable[[PageContext, dict[str, str]], Response]
) -> Response:
    """A form post: the session, then its CSRF token (403 without the right one), then
    `act` as the principal."""
    found = await page_context(request)
    if isinstance(found, Response):
        return found
    ctx = found
    form = await read_form(request)
    if form is None or not ctx.ui.signer.csrf_ok(ctx.session, form.get("csrf")):
        return ctx.ui.renderer.page(
            "error.html",
            ctx,
            403,
            code="csrf",
            detail="this form was refused: it carries no valid CSRF token",
            hint="reload the page and submit the form again",
        )
    return await run_as(ctx, lambda c: act(c, form))
