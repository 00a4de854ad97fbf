"""A real `loopml server` on loopback for the benchmarks' `--server` mode.

Started on a fresh workspace (untimed), its first-start admin token read from its standard
output, stopped with SIGTERM; the benchmark then talks to it with `loopml.connect(url,
token=...)`, the SDK's remote mode, exactly as a user's script would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import loopml
from loopml.config import init_workspace
from loopml.sdk import RemoteClient, RemoteOptions

TOKEN = re.compile(r"lml_[A-Za-z0-9_\-]{20,}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BenchServer:
    root: Path
    workers: int
    env: dict[str, str] | None = None  # added to this process's environment
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0) -> BenchServer:
        init_workspace(self.root)
        self.port = _free_port()
        out = open(self.root / "server.out", "wb")  # noqa: SIM115 (kept for the process)
        err = open(self.root / "server.err", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from loopml.cli.main import run; run()",
                "-w",
                str(self.root),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--no-controller",
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=err,
            env={**os.environ, **(self.env or {})},
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "server.err").read_text()[-2000:])
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("loopml server did not start in time")
            time.sleep(0.1)
        found = TOKEN.search((self.root / "server.out").read_text())
        if found is None:
            raise RuntimeError("the server printed no admin token")
        self.token = found.group(0)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class ServerClient(RemoteClient):
    """A remote client that stops its server when it is closed."""

    server: BenchServer

    def close(self) -> None:
        super().close()
        self.server.stop()


def remote_client(root: Path, workers: int, settings: dict[str, Any]) -> ServerClient:
    """Start a server on `root` and connect to it as its admin."""
    server = BenchServer(root, workers).start()
    options = RemoteOptions(journal_dir=root / "client-journal")
    client = ServerClient(server.url, server.token, options)
    client.server = server
    settings.setdefault("server", {"url": server.url, "workers": workers})
    settings.setdefault("remote", options.__dict__ | {"journal_dir": str(options.journal_dir)})
    return client


def loopml_source() -> str:
    return str(Path(loopml.__file__ or "").parent)
