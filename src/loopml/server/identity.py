"""Who a request acts as: its bearer token resolved to a principal, per request.

The domain services read `stores.actor` on every call. On the server one set of services
answers many principals at once, so the stores' identity is a `RequestActor`: it returns
the principal bound to the current request (a context variable, which follows the request
into the worker thread that runs its handler) and refuses when none is bound.

Tokens are resolved through the same `TokenSession` the SDK's `login` uses, kept per token
(by hash), so expiry is checked on every request and revocation, a disabled principal or a
changed role at most `token_check_interval_s` late (one query per token and interval).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from loopml.errors import PermissionDeniedError
from loopml.governance import IdentityService
from loopml.governance.identity import TokenSession, hash_token
from loopml.store.principal import Principal

_acting: ContextVar[Principal | None] = ContextVar("loopml_server_principal", default=None)
BEARER = "bearer "


class RequestActor:
    """The stores' identity on the server: the principal of the request being answered."""

    def current(self) -> Principal:
        principal = _acting.get()
        if principal is None:
            raise PermissionDeniedError(
                "no principal is bound to this call; requests reach services only through "
                "an authenticated route"
            )
        return principal


@contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    """Bind `principal` to the calls made in this context (a request, the controller)."""
    token = _acting.set(principal)
    try:
        yield
    finally:
        _acting.reset(token)


def bind(principal: Principal) -> object:
    """Bind `principal` for the rest of the current context; returns the reset token."""
    return _acting.set(principal)


def unbind(token: object) -> None:
    _acting.reset(token)  # type: ignore[arg-type]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    if authorization is None or authorization[: len(BEARER)].lower() != BEARER:
        return None
    token = authorization[len(BEARER) :].strip()
    return token or None


class TokenSessions:
    """A bounded cache of `TokenSession`s by token hash; refused tokens are dropped."""

    def __init__(self, identity: IdentityService, interval_s: float, size: int = 10_000) -> None:
        self.identity = identity
        self.interval_s = interval_s
        self.size = size
        self._sessions: OrderedDict[str, TokenSession] = OrderedDict()
        self._lock = threading.Lock()

    def forget_all(self) -> None:
        """Check every token against the store at its next use (after a revocation made
        through this server, which must not wait for the check interval)."""
        with self._lock:
            self._sessions.clear()

    def cached(self, token: str) -> Principal | None:
        """The principal without touching the store, when the session is fresh; else None
        (the caller then runs `resolve` in a worker thread: it may query)."""
        key = hash_token(token)
        with self._lock:
            session = self._sessions.get(key)
        if session is None:
            return None
        if time.monotonic() - session.checked_at >= self.interval_s:
            return None
        if session.expires_at is not None and session.expires_at <= time.time():
            return None
        return session.principal

    def resolve(self, token: str) -> Principal:
        """The token's principal (checked against the store when due); raises
        PermissionDeniedError for an unknown, revoked or expired token."""
        key = hash_token(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                self._sessions.move_to_end(key)
        try:
            if session is None:
                session = TokenSession(self.identity, token, self.interval_s)
                with self._lock:
                    self._sessions[key] = session
                    while len(self._sessions) > self.size:
                        self._sessions.popitem(last=False)
            return session.current()
        except PermissionDeniedError:
            with self._lock:
                self._sessions.pop(key, None)
            raise
