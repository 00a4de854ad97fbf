"""`loopml serve --workers N`: N serving processes sharing one port, and their supervisor.

Each worker is a full serving app in its own `spawn`ed process (one GIL each), with its own
listening socket bound with `SO_REUSEPORT` to the same address: the kernel spreads new
connections over the workers, and no socket or lock is shared between them. Each worker
polls the store for route changes itself, so a canary, promotion or rollback reaches every
worker within `--poll-interval`; each keeps its own prediction-log journal, flushed every N
seconds (each worker logs 1/N of the requests: the server writes as many segments as one).

Prometheus counters and histograms are counted in each worker's memory and copied a few
times a second to files in a directory of this server's own (`LOOPML_SERVE_METRICS_DIR`,
set before the workers start; metric_files.py), and `/metrics` from any worker adds them
up; gauges are reported per worker (`pid` label).

The supervisor restarts a worker that dies and forwards SIGTERM/SIGINT so every worker shuts
down gracefully (flushing its prediction log). Accepted sockets get `TCP_NODELAY` in the
connection protocol itself (`connections.py`): uvicorn's own `--workers` mode leaves it
unset, which costs ~40 ms per keep-alive request.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn

from loopml.errors import ConfigError
from loopml.sdk import Client, connect
from loopml.serving.app import create_app
from loopml.serving.batching import BatchingConfig
from loopml.serving.connections import (
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS,
    fd_budget,
    guarded_protocol,
)
from loopml.serving.metrics import METRICS_DIR_ENV, MULTIPROC_ENV

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 40.0
_METRICS_ENVS = (METRICS_DIR_ENV, MULTIPROC_ENV, MULTIPROC_ENV.lower())
QUICK_DEATH_S = 5.0  # a worker that dies this soon after starting, repeatedly, is a bad config
MAX_QUICK_DEATHS = 3


@dataclass(frozen=True)
class WorkerOptions:
    """Everything a worker needs to build its app (sent to each spawned process)."""

    workspace: Path | None
    token: str | None
    deployments: list[str] | None
    host: str
    port: int
    poll_interval_s: float = 1.0
    log_predictions: bool = True
    log_flush_interval_s: float = 1.0  # the supervisor multiplies it by the worker count
    batching: BatchingConfig | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    auth: str | None = None
    log_level: str = "info"
    max_connections: int = MAX_CONNECTIONS
    header_timeout_s: float = HEADER_TIMEOUT_S


def uvicorn_config(
    app: object,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    max_connections: int = MAX_CONNECTIONS,
    header_timeout_s: float = HEADER_TIMEOUT_S,
) -> uvicorn.Config:
    """One process, uvloop and httptools (guarded against idle and slow connections, with
    TCP_NODELAY), no access log: the settings serving is measured with."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(fd_budget(max_connections), header_timeout_s),
        access_log=False,
        log_level=log_level,
        workers=1,
        timeout_graceful_shutdown=30,
    )


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that other processes may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def run_worker(options: WorkerOptions) -> None:
    """One worker process: its own client, app and SO_REUSEPORT socket, until SIGTERM."""
    client = connect(options.workspace, create=False, token=options.token)
    if not isinstance(client, Client):  # a server URL: workers serve a local workspace
        raise ConfigError(f"loopml serve needs a workspace folder, not {options.workspace}")
    try:
        app = create_app(
            client,
            options.deployments,
            poll_interval_s=options.poll_interval_s,
            log_predictions=options.log_predictions,
            log_flush_interval_s=options.log_flush_interval_s,
            batching=options.batching,
            max_body_bytes=options.max_body_bytes,
            auth=options.auth,  # type: ignore[arg-type]
        )
        sock = reuseport_socket(options.host, options.port)
        config = uvicorn_config(
            app,
            options.host,
            options.port,
            options.log_level,
            max_connections=options.max_connections,
            header_timeout_s=options.header_timeout_s,
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        client.close()


class Supervisor:
    """Starts the workers, restarts the ones that die, stops them all on a signal."""

    def __init__(self, options: WorkerOptions, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        # N workers share the requests: each flushing its prediction log every N intervals
        # keeps the server's flushes (a fixed cost each) and segments as with one worker
        interval = options.log_flush_interval_s * workers
        self.options = replace(options, log_flush_interval_s=interval)
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._procs: list[tuple[BaseProcess, float]] = []
        self._stopping = False
        self._quick_deaths = 0

    def _start_one(self) -> tuple[BaseProcess, float]:
        proc = self._context.Process(
            target=run_worker, args=(self.options,), name="loopml-serve-worker"
        )
        proc.start()
        return proc, time.monotonic()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit code."""
        metrics_dir = tempfile.mkdtemp(prefix="loopml-metrics-")
        # inherited by every spawned worker; prometheus_client's own multiprocess mode
        # (a file write per observation) is kept out of them
        previous_env = {name: os.environ.pop(name, None) for name in _METRICS_ENVS}
        os.environ[METRICS_DIR_ENV] = metrics_dir
        handlers = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._procs = [self._start_one() for _ in range(self.workers)]
            log.info("serving with %d workers on port %d", self.workers, self.options.port)
            while not self._stopping:
                time.sleep(0.2)
                if self._replace_dead(metrics_dir):
                    return 1
            return 0
        finally:
            self._shutdown()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            for name, value in previous_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _replace_dead(self, metrics_dir: str) -> bool:
        """Restart dead workers; True when they keep dying at start (give up)."""
        for i, (proc, started) in enumerate(self._procs):
            if proc.is_alive() or self._stopping:
                continue
            _mark_dead(metrics_dir, proc.pid)
            if time.monotonic() - started < QUICK_DEATH_S:
                self._quick_deaths += 1
                if self._quick_deaths >= MAX_QUICK_DEATHS:
                    log.error(
                        "workers keep exiting at start (exit code %s); stopping", proc.exitcode
                    )
                    return True
            log.warning("worker %s exited with code %s; starting another", proc.pid, proc.exitcode)
            self._procs[i] = self._start_one()
        return False

    def _shutdown(self) -> None:
        for proc, _ in self._procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc, _ in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("worker %s did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.join(5)


def _mark_dead(metrics_dir: str, pid: int | None) -> None:
    """Drop a dead worker's live gauges (its counters stay in the totals)."""
    if pid is None:
        return
    for path in Path(metrics_dir).glob(f"gauge_live*_{pid}.db"):
        path.unlink(missing_ok=True)


def free_reuseport(host: str) -> int:
    """A free port for workers to share (`--port 0` with several workers)."""
    with reuseport_socket(host, 0) as sock:
        port: int = sock.getsockname()[1]
    return port
