"""A real `mlflow server` on loopback for the benchmarks that measure MLflow beside loopml.

Started in its own session (so its workers and job consumers share one process group that
can be stopped as a whole), on a fresh SQLite store, and waited for until `/health` answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class MlflowServer:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def mlflow_server(
    mlflow: Path, folder: Path, extra: list[str], timeout_s: float = 180.0
) -> Iterator[MlflowServer]:
    """`mlflow server` (the `mlflow` executable of a venv) on `folder/mlflow.db`, with
    `extra` options (its artifact settings, workers); its log is `folder/server.log`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", *extra]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with open(folder / "server.log", "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=folder,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"mlflow server exited; see {folder / 'server.log'}")
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start in {timeout_s:.0f} s")
                time.sleep(0.5)
            yield MlflowServer(url, process)
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (its own session: workers and job consumers),
    then SIGKILL to whatever of it is left: MLflow's job consumers can outlive the server."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
