"""Real HTTP receivers on loopback, each in a thread: they record what arrives and answer
as told (normally, slowly, with errors for a while, or not at all until started)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    delay_s: float = 0.0  # sleep before answering
    slow_first: int = 0  # only the first this many requests are slow (0: all of them)
    fail_first: int = 0  # answer 503 to the first this many requests
    status: int = 200


@dataclass
class Receiver:
    """`url` works before `start` (the port is reserved), so a receiver can begin down."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    port: int = 0
    received: list[Received] = field(default_factory=list)
    answered: int = 0
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        if not self.port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.port = sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                number = receiver.answered
                receiver.answered += 1
                how = receiver.behaviour
                if how.delay_s and (not how.slow_first or number < how.slow_first):
                    time.sleep(how.delay_s)
                status = 503 if number < how.fail_first else how.status
                if 200 <= status < 300:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
