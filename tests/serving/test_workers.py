"""`loopml serve --workers 2`: one port, two processes, the same routes, metrics added up."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.serving.metric_files import FLUSH_INTERVAL_S
from loopml.serving.workers import Supervisor, WorkerOptions, uvicorn_config
from tests.serving.conftest import Cancer, deploy, register_cancer, route, serve

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _get(port: int, path: str, body: Any = None) -> tuple[int, Any]:
    """One request on a fresh connection (the kernel picks the worker per connection)."""
    return _session(port, [(path, body)])[0]


def _session(port: int, requests: list[tuple[str, Any]]) -> list[tuple[int, Any]]:
    """Requests on one keep-alive connection: all answered by the same worker."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers = []
    try:
        for path, body in requests:
            if body is None:
                conn.request("GET", path)
            else:
                headers = {"Content-Type": "application/json"}
                conn.request("POST", path, json.dumps(body), headers=headers)
            response = conn.getresponse()
            raw = response.read()
            kind = response.getheader("content-type") or ""
            answers.append((response.status, json.loads(raw) if "json" in kind else raw.decode()))
    finally:
        conn.close()
    return answers


@contextmanager
def _workers(client: Client, *args: str) -> Iterator[int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-c", "from loopml.cli.main import run; run()"]
    cmd += ["--workspace", str(client.settings.root)]
    cmd += ["serve", "--workers", "2", "--port", str(port), "--auth", "open", "--poll-interval"]
    cmd += ["0.2", "--log-level", "warning", *args]
    errors = client.settings.root / "serve.log"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(cmd, env=env, stderr=stderr, text=True)
    try:
        pids = _wait_for_workers(port, proc, errors)
        assert len(pids) == 2
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(60) == 0, errors.read_text()
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def _wait_for_workers(port: int, proc: subprocess.Popen[str], errors: Path) -> set[int]:
    pids: set[int] = set()
    deadline = time.monotonic() + 120
    while len(pids) < 2:
        assert proc.poll() is None, errors.read_text()
        assert time.monotonic() < deadline, f"only workers {pids} answered"
        try:
            status, _ = _get(port, "/readyz")
            if status == 200:
                pids.add(_get(port, "/healthz")[1]["pid"])
        except OSError:
            time.sleep(0.2)
    return pids


def _sums(port: int) -> dict[str, float]:
    """One scrape's series, each summed over its label sets."""
    sums: dict[str, float] = {}
    for line in _get(port, "/metrics")[1].splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


@pytest.mark.slow
def test_two_workers_share_the_port_follow_the_routes_and_add_up_metrics(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    cancer_v2 = register_cancer(client, cancer)
    with _workers(client, "cancer") as port:
        answered_by: set[int] = set()
        for _ in range(40):
            predict = ("/v1/deployments/cancer/predict", cancer.records(1))
            (status, body), (_, health) = _session(port, [predict, ("/healthz", None)])
            assert status == 200 and body["model"] == cancer_v1.uri
            answered_by.add(health["pid"])
        assert len(answered_by) == 2  # the kernel spread the connections over both

        # any worker answers for both; the other one's counts are at most a flush old
        deadline = time.monotonic() + 5 * FLUSH_INTERVAL_S
        while (counted := _sums(port))["loopml_serving_requests_total"] != 40:
            assert counted["loopml_serving_requests_total"] < 40, counted
            assert time.monotonic() < deadline, f"{counted} counted for 40 requests"
            time.sleep(FLUSH_INTERVAL_S / 5)
        assert counted["loopml_serving_request_seconds_count"] == 40
        assert counted["loopml_serving_rows_total"] == 40

        revision = deploy(client, "cancer", [route(cancer_v2)]).revision
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2 or set(seen.values()) != {revision}:
            assert time.monotonic() < deadline, f"workers still at revisions {seen}"
            (_, ready), (_, health) = _session(port, [("/readyz", None), ("/healthz", None)])
            seen[health["pid"]] = ready["deployments"]["cancer"]
        for _ in range(10):
            status, body = _get(port, "/v1/deployments/cancer/predict", cancer.records(1))
            assert status == 200 and body["model"] == cancer_v2.uri

        victim = next(iter(seen))
        os.kill(victim, signal.SIGKILL)  # the supervisor starts another worker
        deadline = time.monotonic() + 120
        alive: set[int] = set()
        while len(alive - {victim}) < 2:
            assert time.monotonic() < deadline, f"workers answering: {alive}"
            try:
                status, health = _get(port, "/healthz")
            except OSError:
                continue  # a connection the dead worker had accepted
            if status == 200:
                alive.add(health["pid"])
        status, body = _get(port, "/v1/deployments/cancer/predict", cancer.records(1))
        assert status == 200 and body["model"] == cancer_v2.uri


def test_accepted_sockets_send_without_delay(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    """TCP_NODELAY is set on each accepted connection, whoever made the listening socket."""
    deploy(client, "cancer", [route(cancer_v1)])
    app = create_app(client, ["cancer"], auth="open", log_predictions=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, "warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read()
        (protocol,) = server.server_state.connections
        accepted = protocol.transport.get_extra_info("socket")
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        conn.close()
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_each_of_n_workers_flushes_its_prediction_log_every_n_intervals(tmp_path: Path) -> None:
    """N workers each log 1/N of the requests: flushing every N intervals keeps the server's
    flushes (a fixed cost each) and its segment count as with one worker."""
    options = WorkerOptions(tmp_path, None, None, "127.0.0.1", 0, log_flush_interval_s=0.5)
    assert Supervisor(options, 3).options.log_flush_interval_s == 1.5
    assert Supervisor(options, 1).options.log_flush_interval_s == 0.5


@pytest.mark.anyio
async def test_the_app_flushes_its_log_at_the_interval_given(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    with pytest.raises(ValueError, match="log_flush_interval_s"):
        create_app(client, ["cancer"], auth="open", log_flush_interval_s=0)
    app = create_app(client, ["cancer"], auth="open", log_flush_interval_s=2.0)
    async with serve(app) as http:
        assert (await http.post("/invocations", json=cancer.records(1))).status_code == 200
        plog = app.state.serving.predictions
        assert plog is not None and plog.flush_interval_s == 2.0
