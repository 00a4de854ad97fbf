"""A real `loopml server` process on loopback, started, stopped, killed and restarted.

The server runs exactly as a user starts it (`loopml -w WS server ...`, here through
`python -c` so the worktree's sources are used); its standard output and error go to files
the tests read (the first start prints the admin token there, and nowhere else).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import loopml

SRC = Path(loopml.__file__).resolve().parents[1]
TOKEN = re.compile(r"lml_[A-Za-z0-9_\-]{20,}")
START_TIMEOUT_S = 120.0  # imports are slow on a loaded machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This interpreter's environment without LOOPML_* settings, the sources on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


@dataclass
class LiveServer:
    root: Path
    port: int
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _log(self, stream: str) -> Path:
        return self.root / f"server-{stream}.log"

    def start(self) -> LiveServer:
        """Start the process and wait until /readyz answers."""
        self.starts += 1
        command = [
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
            *self.args,
        ]
        with open(self._log("out"), "ab") as out, open(self._log("err"), "ab") as err:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=err, env=self.env, cwd=self.root
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"loopml server exited early:\n{self.stderr()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"loopml server did not start:\n{self.stderr()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (a graceful shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL: the process dies mid-request, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def stdout(self) -> str:
        return self._log("out").read_text(errors="replace") if self._log("out").exists() else ""

    def stderr(self) -> str:
        return self._log("err").read_text(errors="replace") if self._log("err").exists() else ""

    def admin_token(self) -> str:
        found = TOKEN.findall(self.stdout())
        assert found, f"no admin token on the server's stdout:\n{self.stdout()}"
        return found[0]


def make_principal(server: LiveServer, admin: str, name: str, role: str) -> str:
    """Create principal `name` with `role` through the API; returns a token for it."""
    headers = {"authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=30) as http:
        created = http.post("/auth/principals", json={"name": name, "role": role})
        assert created.status_code in (201, 409), created.text
        answer = http.post(f"/auth/principals/{name}/tokens", json={"label": "tests"})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])
