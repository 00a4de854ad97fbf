"""The remote client's plain kept-alive connections, against real sockets."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from loopml.sdk.remote import plain_http
from loopml.sdk.remote.plain_http import PlainConnections, query_string, usable_for


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer(200, body)

    def do_GET(self) -> None:
        peer = f"{self.client_address[1]} {self.path} {self.headers['authorization']}"
        self._answer(404 if "missing" in self.path else 200, peer.encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _pool(port: int, timeout_s: float = 5.0) -> PlainConnections:
    return PlainConnections(
        f"http://127.0.0.1:{port}", "/api/v1", {"authorization": "Bearer t"}, timeout_s
    )


def test_requests_share_one_kept_alive_connection(server: ThreadingHTTPServer) -> None:
    pool = _pool(server.server_address[1])
    first = pool.request("GET", "/runs", body=None, params=None, headers={}, timeout_s=None)
    second = pool.request("GET", "/runs", body=None, params=None, headers={}, timeout_s=None)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text  # the same client port: the same connection
    assert first.text.endswith(" /api/v1/runs Bearer t")
    echoed = pool.request("POST", "/x", body=b'{"a": 1}', params=None, headers={}, timeout_s=2.0)
    assert echoed.json() == {"a": 1}
    missing = pool.request("GET", "/missing", body=None, params=None, headers={}, timeout_s=None)
    assert missing.status_code == 404
    pool.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(
    server: ThreadingHTTPServer,
) -> None:
    pool = _pool(server.server_address[1])
    first = pool.request("GET", "/a", body=None, params=None, headers={}, timeout_s=None)
    for conn in pool._idle:  # what a server does to an idle connection after its timeout
        assert conn.sock is not None
        conn.sock.shutdown(socket.SHUT_RD)
    again = pool.request("GET", "/a", body=None, params=None, headers={}, timeout_s=None)
    assert again.status_code == 200 and again.text != first.text  # a new connection
    pool.close()


def test_a_refused_connection_is_not_sent_and_a_dropped_answer_is_lost() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.ConnectError):  # nothing listens: retried whatever the method
        _pool(port).request("GET", "/a", body=None, params=None, headers={}, timeout_s=None)

    listener = socket.create_server(("127.0.0.1", 0))

    def drop_after_reading() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()

    thread = threading.Thread(target=drop_after_reading, daemon=True)
    thread.start()
    pool = _pool(listener.getsockname()[1])
    with pytest.raises(httpx.RemoteProtocolError):  # it may have been applied
        pool.request("POST", "/a", body=b"{}", params=None, headers={}, timeout_s=None)
    thread.join(5)
    listener.close()


def test_a_silent_server_times_out_as_a_lost_answer() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    pool = _pool(listener.getsockname()[1], timeout_s=0.2)
    with pytest.raises(httpx.ReadTimeout):
        pool.request("GET", "/a", body=None, params=None, headers={}, timeout_s=None)
    listener.close()


@pytest.mark.parametrize(
    "params",
    [
        {"experiment": ["a b", "c&d"], "max_results": 5},
        {"filter": "metrics.rmse < 3 and params.model = 'gbm'", "flag": True, "off": False},
        {"name": "ünïcode/ü", "empty": None},
        None,
    ],
)
def test_the_query_is_encoded_as_httpx_encodes_it(params: dict[str, Any] | None) -> None:
    expected = httpx.URL("http://h/p", params=params).query.decode()
    assert query_string(params) == ("?" + expected if expected else "")


def test_only_plain_http_without_a_proxy_takes_this_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert usable_for("http://127.0.0.1:8080")
    assert not usable_for("https://loopml.example.com")
    monkeypatch.setenv("http_proxy", "http://proxy:3128")
    assert not usable_for("http://loopml.example.com:8080")
    monkeypatch.setenv("no_proxy", "loopml.example.com")
    assert usable_for("http://loopml.example.com:8080")


@pytest.mark.parametrize("size", [0, 100, plain_http.ONE_SEND, plain_http.ONE_SEND + 1])
def test_a_small_body_leaves_with_its_head_in_one_write(
    server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    writes: list[bytes] = []

    def send(conn: http.client.HTTPConnection, data: Any) -> None:
        writes.append(bytes(data))
        http.client.HTTPConnection.send(conn, data)

    monkeypatch.setattr(plain_http._Connection, "send", send)
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    pool = _pool(server.server_address[1])
    answer = pool.request("POST", "/echo", body=body, params=None, headers={}, timeout_s=None)
    pool.close()
    assert answer.status_code == 200 and answer.content == body  # the server read it whole
    assert writes[0].startswith(b"POST /api/v1/echo HTTP/1.1\r\n")
    assert b"".join(writes).endswith(b"\r\n\r\n" + body)
    assert len(writes) == (1 if size <= plain_http.ONE_SEND else 2)
