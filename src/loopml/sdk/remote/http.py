"""HTTP to `loopml server`: the token on every request, retries, errors as loopml errors.

A request that never reached the server (connection refused or reset before it was sent)
is retried whatever its method, so a client rides out a server restart; one that may have
reached it is retried only when repeating it is harmless (`idempotent`). Retries back off
up to one second apart and give up after `retry_s` seconds. The server's JSON errors
become the loopml exception of the same kind, with the server's message, so code written
against the local client handles them unchanged. The token is never part of a message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from loopml.errors import (
    ArtifactCorruptedError,
    AuditChainError,
    ConflictError,
    LoopmlError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
    ValidationError,
)
from loopml.sdk.remote.plain_http import PlainConnections, usable_for
from loopml.tracking.streams import StreamGapError

API_PREFIX = "/api/v1"
RETRY_STATUSES = frozenset({502, 503, 504})
_ERRORS: dict[str, type[LoopmlError]] = {
    "invalid": ValidationError,
    "malformed": ValidationError,
    "too_large": ValidationError,
    "digest_mismatch": ArtifactCorruptedError,
    "not_found": NotFoundError,
    "forbidden": PermissionDeniedError,
    "policy_violation": PolicyViolationError,
    "unauthenticated": PermissionDeniedError,
    "conflict": ConflictError,
    "audit_chain_broken": AuditChainError,
    "artifact_corrupted": ArtifactCorruptedError,
}
# Errors of the transport: the request was not sent, or its answer was lost.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_ANSWER_LOST = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError)
TRANSPORT_ERRORS = _NOT_SENT + _ANSWER_LOST


class ServerUnavailableError(LoopmlError):
    """The server could not be reached for longer than the client retries."""


def error_from(response: httpx.Response) -> LoopmlError:
    """The loopml exception a server error answer stands for."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or "error" not in body:
        return LoopmlError(
            f"the server answered {response.status_code} without a loopml error body; "
            "is the URL a loopml server?"
        )
    code, detail, hint = str(body["error"]), str(body.get("detail", "")), body.get("hint")
    message = detail if not hint or hint in detail else f"{detail}; {hint}"
    if code == "conflict" and isinstance(body.get("absorbed"), int):
        return StreamGapError(message, body["absorbed"])
    kind = _ERRORS.get(code)
    if kind is None:
        return LoopmlError(f"the server failed ({response.status_code} {code}): {message}")
    return kind(message)


class RemoteHttp:
    """One connection pool to a server; safe to share between threads."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = 30.0,
        retry_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        headers = {"authorization": f"Bearer {token}"}
        self._client = httpx.Client(
            base_url=self.url + API_PREFIX, headers=headers, timeout=timeout_s, transport=transport
        )
        # small in-memory bodies take plain kept-alive connections (plain_http.py)
        self._plain = (
            PlainConnections(self.url, API_PREFIX, headers, timeout_s)
            if transport is None and usable_for(self.url)
            else None
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """Send, retrying as the module docstring says; raise the loopml error of a refusal.

        `content` makes a fresh body (bytes or an iterator of them) for each attempt;
        `timeout_s` replaces the client's timeout (work that grows with a file's size)."""
        body = None if json is None else orjson.dumps(json)
        sent_headers = dict(headers or {})
        if body is not None:
            sent_headers["content-type"] = "application/json"
        safe = method in ("GET", "HEAD", "PUT", "DELETE") if idempotent is None else idempotent
        plain = self._plain if content is None else None
        for wait in self._backoff():
            try:
                if plain is not None:
                    response = plain.request(
                        method,
                        path,
                        body=body,
                        params=params,
                        headers=sent_headers,
                        timeout_s=timeout_s,
                    )
                else:
                    response = self._client.request(
                        method,
                        path,
                        content=body if content is None else content(),
                        params=params,
                        headers=sent_headers,
                        timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
                    )
            except _NOT_SENT as exc:
                wait(exc)
                continue
            except _ANSWER_LOST as exc:
                if not safe:
                    raise ServerUnavailableError(_lost(self.url, method, path, exc)) from None
                wait(exc)
                continue
            if response.status_code in RETRY_STATUSES:
                wait(None)
                continue
            if response.status_code >= 400:
                raise error_from(response)
            return response
        raise AssertionError("unreachable")  # _backoff raises when it gives up

    def file_timeout(self, size: int) -> float:
        """How long to wait for the server to finish with a file of `size` bytes (it
        hashes and stores it after the last byte arrived): the usual timeout, plus a
        second per 10 MB."""
        return self.timeout_s + size / 10e6

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, then the answer's JSON document."""
        return orjson.loads(self.request(method, path, **kwargs).content)

    @contextmanager
    def stream(
        self, path: str, headers: Mapping[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A GET whose body is read piece by piece (retried until its answer starts; a
        body cut later is the caller's to resume)."""
        for wait in self._backoff():
            started = False
            try:
                with self._client.stream("GET", path, headers=headers) as response:
                    if response.status_code in RETRY_STATUSES:
                        wait(None)
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise error_from(response)
                    started = True
                    yield response
                    return
            except TRANSPORT_ERRORS as exc:
                if started:
                    raise
                wait(exc)

    def retries(self) -> Iterator[Any]:
        """Attempts with back-off, for a caller's own retry loop: each is a `wait(cause)`
        to call when it failed; after `retry_s` seconds the last one raises."""
        return self._backoff()

    def _backoff(self) -> Iterator[Any]:
        """Yields a `wait(cause)` per attempt; the last one raises ServerUnavailableError."""
        deadline = time.monotonic() + self.retry_s
        delay = 0.05
        while True:
            failure: list[BaseException | None] = []

            def wait(cause: BaseException | None, failure: list[Any] = failure) -> None:
                failure.append(cause)

            yield wait
            if not failure:
                return
            if time.monotonic() + delay > deadline:
                cause = failure[0]
                reason = "it answered 'unavailable'" if cause is None else type(cause).__name__
                raise ServerUnavailableError(
                    f"loopml server {self.url} unreachable for {self.retry_s:g} s ({reason}); "
                    "check that it runs (curl URL/healthz) and that the URL is right"
                )
            time.sleep(delay * (0.5 + random.random()))
            delay = min(1.0, delay * 2)

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
        self._client.close()


def _lost(url: str, method: str, path: str, exc: Exception) -> str:
    return (
        f"the answer of {url} to {method} {path} was lost ({type(exc).__name__}); it may or "
        "may not have been applied: check before repeating it"
    )
