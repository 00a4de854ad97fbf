"""Signing in with an API token, and out.

The login form is protected by a double-submit token (a random value in a SameSite
cookie and in the form), since no session exists yet; the token is checked exactly as
the API checks it, and only then is the session cookie set.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from loopml.errors import PermissionDeniedError
from loopml.server.ui.context import UiState, page_context, read_form, ui_state
from loopml.server.ui.session import (
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    MAX_AGE_S,
    SESSION_COOKIE,
)

MAX_TOKEN_LEN = 512


def _safe_next(ui: UiState, target: str | None) -> str:
    """Where to go after signing in: a path of the UI only (never another site)."""
    home = ui.prefix + "/"
    if not target or not target.startswith(ui.prefix + "/") or target.startswith("//"):
        return home
    if "\\" in target or any(ord(c) < 32 for c in target):
        return home
    return target


def _login_page(
    ui: UiState, request: Request, status: int, message: str | None, target: str | None
) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = ui.renderer.html(
        "login.html",
        status,
        login_csrf=nonce,
        message=message,
        next=_safe_next(ui, target),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        nonce,
        max_age=3600,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


async def login_form(request: Request) -> Response:
    ui = ui_state(request)
    found = await page_context(request)
    if not isinstance(found, Response):  # already signed in
        return RedirectResponse(_safe_next(ui, request.query_params.get("next")), 303)
    params = request.query_params
    return _login_page(ui, request, 200, params.get("message"), params.get("next"))


async def login(request: Request) -> Response:
    ui = ui_state(request)
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if form is None or not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
        return _login_page(
            ui, request, 403, "the sign-in form expired or came from elsewhere; try again", None
        )
    target = form.get("next")
    token = form.get("token", "").strip()
    if not token or len(token) > MAX_TOKEN_LEN:
        return _login_page(
            ui,
            request,
            400,
            "paste an API token (lml_…); an admin creates one with `loopml auth token create NAME`",
            target,
        )
    try:
        await run_in_threadpool(ui.server.sessions.resolve, token)
    except PermissionDeniedError as exc:
        return _login_page(ui, request, 401, f"this token was refused: {exc}", target)
    response = RedirectResponse(_safe_next(ui, target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        ui.signer.open(token),
        max_age=MAX_AGE_S,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


async def logout(request: Request) -> Response:
    """Sign out (a POST with the session's CSRF token, so no page can sign a user out)."""
    ui = ui_state(request)
    found = await page_context(request)
    if isinstance(found, Response):
        return found
    form = await read_form(request)
    if form is None or not ui.signer.csrf_ok(found.session, form.get("csrf")):
        return ui.renderer.page(
            "error.html",
            found,
            403,
            code="csrf",
            detail="this form was refused: it carries no valid CSRF token",
            hint="reload the page and submit the form again",
        )
    response = RedirectResponse(f"{ui.prefix}/login?message=signed+out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
