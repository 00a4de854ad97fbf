"""Idle, slow and vanishing clients against a real server: none of them starves it."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.serving.connections import CoalescingTransport, fd_budget, guarded_protocol
from tests.serving.conftest import Cancer, deploy, route
from tests.serving.live import live_server

IDLE_SOCKETS = 1100
SERVER_FD_LIMIT = 1024  # the limit the server process gets, as on a default Linux account


def _open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` connections that never send a byte (bounded: each connect times out)."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sockets.append(sock)
    return sockets


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:  # reset: closed too
        return True


def _predict(url: str, cancer: Cancer, headers: dict[str, str] | None = None) -> int:
    with httpx.Client(timeout=15) as http:
        r = http.post(
            f"{url}/v1/deployments/cancer/predict", json=cancer.records(1), headers=headers
        )
        return r.status_code


def test_idle_and_half_sent_requests_are_closed_after_the_header_timeout(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    app = create_app(client, ["cancer"], auth="open")
    with live_server(app, header_timeout_s=0.5) as url:
        port = int(url.rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as silent,
            socket.create_connection(("127.0.0.1", port), timeout=5) as slow,
        ):
            slow.sendall(b"POST /v1/deployments/cancer/predict HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            assert _closed_by_server(silent, within_s=10) and _closed_by_server(slow, within_s=10)
            assert time.monotonic() - started < 10
        assert _predict(url, cancer) == 200  # a prompt client is unaffected


def test_past_the_connection_limit_idle_sockets_make_room_for_real_clients(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    app = create_app(client, ["cancer"], auth="open")
    with live_server(app, max_connections=20, header_timeout_s=60) as url:
        port = int(url.rsplit(":", 1)[1])
        idle = _open_idle(port, 60)
        try:
            for _ in range(10):
                assert _predict(url, cancer) == 200
            still_open = sum(not _closed_by_server(s, within_s=0.01) for s in idle)
            assert 0 < still_open <= 20  # the oldest idle ones were closed, the rest kept
        finally:
            for sock in idle:
                sock.close()


def test_guard_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        guarded_protocol(0, 1.0)
    assert 1 <= fd_budget(10**9) <= resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_a_client_that_disconnects_mid_body_logs_no_traceback(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    app = create_app(client, ["cancer"], auth="open")
    with caplog.at_level(logging.WARNING), live_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        body = orjson.dumps(cancer.records(1))
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(
                    b"POST /v1/deployments/cancer/predict HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body[:20]
                )
        time.sleep(0.5)
        assert _predict(url, cancer) == 200
        metrics = httpx.get(f"{url}/metrics").text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert 'status="500"' not in metrics


@pytest.mark.slow
def test_eleven_hundred_idle_sockets_leave_loopml_serve_answering(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, tmp_path: Path
) -> None:
    """The attack: more idle connections than the server has file descriptors."""
    deploy(client, "cancer", [route(cancer_v1)])
    token = client.deployments.tokens.create("cancer", ["predict"]).token
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE_SOCKETS + 200
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"this account may open only {hard} files; the attack needs {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loopml_cli = Path(sys.executable).with_name("loopml")
    cmd = [str(loopml_cli), "-w", str(client.settings.root), "serve", "cancer", "--port", str(port)]
    cmd += ["--log-level", "warning"]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(
                resource.RLIMIT_NOFILE, (SERVER_FD_LIMIT, SERVER_FD_LIMIT)
            ),
        )
    url = f"http://127.0.0.1:{port}"
    idle: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 240  # a busy machine loads the model slowly
        while True:
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server not ready: " + log_path.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        idle = _open_idle(port, IDLE_SOCKETS)
        statuses = [_predict(url, cancer, {"Authorization": f"Bearer {token}"}) for _ in range(20)]
        assert statuses == [200] * 20, log_path.read_text()
        assert server.poll() is None
        still_open = sum(not _closed_by_server(s, within_s=0.01) for s in idle)
        assert still_open < SERVER_FD_LIMIT  # never more connections than descriptors
    finally:
        for sock in idle:
            sock.close()
        server.terminate()
        server.wait(timeout=60)
    assert "Too many open files" not in log_path.read_text()


class _Transport:
    """What a transport was asked to do, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def close(self) -> None:
        self.calls.append(("close", b""))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _turns(loop: asyncio.AbstractEventLoop, count: int = 2) -> None:
    for _ in range(count):
        loop.run_until_complete(asyncio.sleep(0))


def test_back_to_back_writes_leave_in_one_write_and_a_lone_one_on_the_next_turn() -> None:
    loop = asyncio.new_event_loop()
    try:
        raw = _Transport()
        transport = CoalescingTransport(raw, loop)  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert raw.calls == []  # held until the body (or the loop's next turn)
        transport.write(memoryview(b"body"))
        assert raw.calls == [("write", b"HTTP/1.1 200 OK\r\n\r\nbody")]
        _turns(loop)
        assert len(raw.calls) == 1  # the cancelled flush sends nothing twice
        transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # a client waits for this one alone
        _turns(loop)
        assert raw.calls[-1] == ("write", b"HTTP/1.1 100 Continue\r\n\r\n")
        transport.writelines([b"a", b"b"])
        transport.write(b"c")
        transport.write(b"d")  # a third write waits for the next turn
        assert raw.calls[-1] == ("write", b"abc")
        _turns(loop)
        assert raw.calls[-1] == ("write", b"d")
        assert transport.get_extra_info("socket") == "info:socket"  # the rest: passed on
    finally:
        loop.close()


def test_close_sends_what_is_held_first_and_a_lost_connection_drops_it() -> None:
    loop = asyncio.new_event_loop()
    try:
        raw = _Transport()
        transport = CoalescingTransport(raw, loop)  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        transport.close()
        assert raw.calls == [("write", b"HTTP/1.1 400 Bad Request\r\n\r\n"), ("close", b"")]
        _turns(loop)
        assert len(raw.calls) == 2

        gone = _Transport()
        transport = CoalescingTransport(gone, loop)  # type: ignore[arg-type]
        transport.write(b"headers")
        transport.drop()  # connection_lost
        _turns(loop)
        assert gone.calls == []

        closing = _Transport()
        transport = CoalescingTransport(closing, loop)  # type: ignore[arg-type]
        transport.write(b"headers")
        closing.closing = True  # closed underneath (e.g. reset by the peer)
        _turns(loop)
        assert closing.calls == []
    finally:
        loop.close()


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Status line and headers, then the body (by Content-Length), from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_answers_on_a_keep_alive_connection_and_100_continue_arrive_whole(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    """Each answer leaves in one write; an interim `100 Continue` is not held back."""
    deploy(client, "cancer", [route(cancer_v1)])
    app = create_app(client, ["cancer"], auth="open")
    body = orjson.dumps(cancer.records(1))
    request = (
        b"POST /v1/deployments/cancer/predict HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\n" + f"Content-Length: {len(body)}\r\n".encode()
    )
    with live_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(3):  # keep-alive: the same connection, answer after answer
                sock.sendall(request + b"\r\n" + body)
                head, answer = _read_response(sock)
                assert head.startswith(b"HTTP/1.1 200"), head
                assert len(orjson.loads(answer)["predictions"]) == 1
            sock.sendall(request + b"Expect: 100-continue\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(body)
            head, answer = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200"), head
