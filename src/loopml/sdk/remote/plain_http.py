"""Small JSON requests over kept-alive `http.client` connections: the remote client's hot path.

A remote run costs a request or two per batch of points and per end, and httpx spends
about half a millisecond of CPU on each request before and after the network (URL
merging, cookies, auth and redirect hooks, h11's state machine); `http.client` spends a
fifth of that. So requests with a small in-memory body (JSON, or none) to a plain-HTTP
server that no proxy stands in front of go through this pool, and everything else
(HTTPS with its trust store, proxies, uploads and downloads that stream, a test's
transport) through httpx, as before.

Failures are raised as the httpx exceptions that `RemoteHttp` already sorts into "not
sent" (retried whatever the method) and "answer lost" (retried only when idempotent), so
both paths keep one retry policy. A kept-alive connection that the server closed while
idle is noticed before it is reused (it reads as ready: EOF), and replaced.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus, urlsplit

import httpx

MAX_IDLE = 8  # kept-alive connections held for reuse
ONE_SEND = 256 * 1024  # a body up to this size goes out in the same write as the head


def usable_for(url: str) -> bool:
    """Whether requests to `url` may take this path: plain HTTP, and no proxy from the
    environment applies to its host (httpx would honour one)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    proxies = urllib.request.getproxies()
    if not proxies.get("http") and not proxies.get("all"):
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname))


def query_string(params: Mapping[str, Any] | None) -> str:
    """`params` encoded as httpx encodes them (lists repeat the key, booleans lowercase,
    None empty)."""
    if not params:
        return ""
    pairs: list[str] = []
    for key, value in params.items():
        values: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
        for item in values:
            pairs.append(f"{quote_plus(str(key), safe='')}={quote_plus(_text(item), safe='')}")
    return "?" + "&".join(pairs)


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


class PlainConnections:
    """A pool of kept-alive connections to one server; safe to share between threads."""

    def __init__(self, url: str, prefix: str, headers: Mapping[str, str], timeout_s: float):
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/") + prefix
        self.headers = {"host": parts.netloc, **headers}
        self.timeout_s = timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        timeout_s: float | None,
    ) -> httpx.Response:
        """Send one request and read its whole answer (see the module docstring)."""
        target = self.prefix + path + query_string(params)
        sent = {**self.headers, **headers}
        if body is not None:
            sent["content-length"] = str(len(body))
        timeout = self.timeout_s if timeout_s is None else timeout_s
        conn = self._take()
        try:
            try:
                if conn.sock is None:
                    conn.timeout = timeout
                    conn.connect()
                    _no_delay(conn)
                else:
                    conn.sock.settimeout(timeout)
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                raise httpx.ConnectError(str(exc)) from exc
            try:
                conn.request(method, target, body=body, headers=sent)
            except OSError as exc:
                raise httpx.WriteError(str(exc)) from exc
            try:
                answer = conn.getresponse()
                content = answer.read()
            except TimeoutError as exc:
                raise httpx.ReadTimeout(str(exc)) from exc
            except (http.client.HTTPException, OSError) as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._give_back(conn)
        return httpx.Response(answer.status, headers=answer.getheaders(), content=content)

    def _take(self) -> http.client.HTTPConnection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _closed_by_peer(conn):
                    return conn
                conn.close()
        return _Connection(self.host, self.port, timeout=self.timeout_s)

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Connection(http.client.HTTPConnection):
    """An `HTTPConnection` that writes a request's head and small body with one `send`.

    `http.client` writes them apart: two system calls where one does, and a server that
    may wake up for the head alone and again for the body — on every request of a run."""

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if not isinstance(message_body, bytes) or encode_chunked or len(message_body) > ONE_SEND:
            super()._send_output(message_body, encode_chunked)  # type: ignore[misc]
            return
        buffer: list[bytes] = self._buffer  # type: ignore[attr-defined]
        buffer.extend((b"", b""))
        head = b"\r\n".join(buffer)
        del buffer[:]
        self.send(head + message_body)


def _no_delay(conn: http.client.HTTPConnection) -> None:
    """http.client writes a request's head and body apart: without TCP_NODELAY, Nagle's
    algorithm would hold the body until the server acknowledges the head."""
    sock: socket.socket | None = conn.sock
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle kept-alive connection that reads as ready has been closed by the server
    (or holds bytes nobody asked for): it must not carry a request."""
    sock: socket.socket | None = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
