"""A real `mlflow server` process (the full package, .venv-mlflow-server) on loopback."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.server.live import free_port

START_TIMEOUT_S = 120.0


@contextmanager
def mlflow_server(python: Path, database: Path, artifacts: Path) -> Iterator[str]:
    """`mlflow server` on `database` (SQLite) serving artifacts from `artifacts`; its URL."""
    port = free_port()
    log = (database.parent / f"mlflow-server-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            str(python),
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{database}",
            "--artifacts-destination",
            str(artifacts),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": f"{python.parent}:/usr/bin:/bin"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (
                database.parent / f"mlflow-server-{port}.log"
            ).read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
