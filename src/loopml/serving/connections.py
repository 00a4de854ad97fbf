"""Keep idle and slow connections from starving `loopml serve`.

uvicorn closes a keep-alive connection a few seconds after its last answer, but a socket
that never sends a request (or sends its headers a byte at a time) stays open for good, and
each holds a file descriptor: some hundreds of them and the process can accept nothing
more. Guards, in uvicorn's own HTTP protocol (httptools):

* a **header timeout**: a connection whose request headers are not complete
  `header_timeout_s` after it opened (or after its next request began) is closed;
* **TCP_NODELAY** on every accepted socket (see `_no_delay`), with each answer's status
  line and headers held until its body is written, so that they leave together
  (`CoalescingTransport`);
* a **connection limit**: past `max_connections` open connections, each new one closes the
  oldest connection with no request in flight, so a flood of idle sockets cannot keep
  legitimate clients out; when every connection is busy the new one is closed instead.

`fd_budget()` raises the soft file-descriptor limit to the hard one and says how many
connections fit in it, leaving room for models, the store and the journals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 1000
RESERVED_FDS = 100  # model files, the store, journals, the listening socket, logs


def fd_budget(wanted: int = MAX_CONNECTIONS) -> int:
    """Connections that fit in this process's file descriptors (soft limit raised first)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # not allowed here: live with the soft limit
            pass
    return max(1, min(wanted, soft - RESERVED_FDS))


def guarded_protocol(
    max_connections: int = MAX_CONNECTIONS, header_timeout_s: float = HEADER_TIMEOUT_S
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a header timeout and a connection limit."""
    if max_connections < 1 or header_timeout_s <= 0:
        raise ValueError("max_connections and header_timeout_s must be positive")

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _opened_at = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            coalescing = CoalescingTransport(transport, self.loop)
            super().connection_made(coalescing)  # type: ignore[arg-type]
            _no_delay(transport)
            self._opened_at = self.loop.time()
            self._arm_header_timer()
            if len(self.connections) > max_connections:
                _make_room(self.connections, self)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            if isinstance(self.transport, CoalescingTransport):
                self.transport.drop()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._arm_header_timer()

        def on_headers_complete(self) -> None:
            self._disarm_header_timer()
            super().on_headers_complete()

        def busy(self) -> bool:
            """A request is being read or answered on this connection."""
            cycle = self.cycle
            return self._header_timer is None and cycle is not None and not cycle.response_complete

        def _arm_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                log.debug("closing a connection that sent no complete request headers in time")
                self.transport.close()

    return GuardedHttpToolsProtocol


class CoalescingTransport:
    """A connection's transport whose writes leave together when made back to back.

    uvicorn writes an answer in two calls, the status line and headers, then the body.
    With TCP_NODELAY each becomes a segment of its own, and each wakes the client: two
    send syscalls, and two wake-ups of a client that can only act on the second. Here a
    write is held until the next one (which then leaves joined with it, at once) or until
    the event loop's next turn (`call_soon`), whichever comes first; `close()` sends what
    is held first. Every other attribute is the wrapped transport's.
    """

    __slots__ = ("_flush_handle", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_handle: asyncio.Handle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._flush_handle = self._loop.call_soon(self.flush)
            return
        self._held = None
        self._cancel_flush()
        self._transport.write(held + data)

    def writelines(self, data: Any) -> None:
        self.write(b"".join(data))

    def flush(self) -> None:
        """Send what is held (the loop's next turn, or before closing)."""
        self._flush_handle = None
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._cancel_flush()
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self.drop()
        self._transport.abort()

    def drop(self) -> None:
        """The connection is gone: forget what is held."""
        self._cancel_flush()
        self._held = None

    def _cancel_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _no_delay(transport: asyncio.Transport) -> None:
    """Send each answer at once (TCP_NODELAY), whoever created the listening socket.

    Without it, a keep-alive client's next request waits for the delayed ACK of the
    previous answer: ~40 ms each, which is what uvicorn's `--workers` mode costs."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):  # the peer is already gone
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _make_room(connections: set[Any], newcomer: Any) -> None:
    """Close the oldest idle connection, or the newcomer when every other one is busy."""
    idle = [c for c in connections if c is not newcomer and not c.busy()]
    victim = min(idle, key=lambda c: c._opened_at) if idle else newcomer
    connections.discard(victim)
    victim.transport.close()
