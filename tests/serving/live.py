"""A real uvicorn server on 127.0.0.1 in a thread, and client threads keeping it busy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from loopml.serving.workers import uvicorn_config


@contextmanager
def live_server(app: FastAPI, **guards: Any) -> Iterator[str]:
    """Serve `app` with the same uvicorn settings as `loopml serve` (`guards`: its
    max_connections and header_timeout_s); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(app, "127.0.0.1", port, log_level="warning", **guards)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "server did not stop"


@dataclass
class Answer:
    sent: float
    status: int
    model: str | None


@dataclass
class Load:
    """Client threads posting `body` in a loop until stopped; every answer is kept."""

    url: str
    body: Any
    threads: int = 4
    limit_s: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        self._workers = [
            threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_s
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                sent = time.monotonic()
                with self._lock:
                    self.sent += 1
                try:
                    r = http.post(self.url, json=self.body)
                    model = r.json().get("model") if r.status_code == 200 else None
                    answer = Answer(sent, r.status_code, model)
                except Exception as exc:  # a dropped connection is exactly what we look for
                    with self._lock:
                        self.failures.append(repr(exc))
                    continue
                with self._lock:
                    self.answers.append(answer)

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.sent >= moment]

    def wait_for(self, moment: float, count: int, timeout: float = 20.0) -> list[Answer]:
        """At least `count` answers to requests sent after `moment`."""
        deadline = time.monotonic() + timeout
        while len(found := self.since(moment)) < count:
            assert time.monotonic() < deadline, f"only {len(found)} answers in {timeout}s"
            time.sleep(0.02)
        return found


def wait_for_revision(
    base_url: str, deployment: str, revision: int, timeout: float = 10.0
) -> float:
    """Poll the server until it serves `revision`; returns the moment it was seen."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=5) as http:
        while True:
            served = http.get("/readyz").json()["deployments"].get(deployment)
            if served == revision:
                return time.monotonic()
            assert time.monotonic() < deadline, f"{base_url} still at revision {served}"
            time.sleep(0.02)
