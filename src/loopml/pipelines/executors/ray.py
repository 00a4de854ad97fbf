"""The Ray executor: tasks run as Ray tasks on a local Ray instance or a cluster.

With Ray already initialised (`ray.init(...)` by the application), that instance is used
and left running. Otherwise the executor connects to `address` (the `ray_address`
setting, `LOOPML_RAY_ADDRESS`) or starts a local instance, and shuts down what it started.
Workers must reach the workspace's stores: on a cluster, a PostgreSQL store and an S3
artifact store (a local SQLite file is only visible on the machine that holds it).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from loopml.errors import ConfigError
from loopml.pipelines.executors.base import ExecutorCapabilities

P = TypeVar("P")
R = TypeVar("R")


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # an optional extra
        raise ConfigError("the ray executor needs Ray: pip install 'loopml[ray]'") from exc
    return ray


class RayExecutor:
    def __init__(self, address: str | None = None, max_workers: int | None = None) -> None:
        self._ray = _ray()
        self._started = False
        if not self._ray.is_initialized():
            try:
                self._ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except ConnectionError as exc:
                raise ConfigError(
                    f"cannot reach the Ray cluster at {address!r} (ray_address / "
                    f"LOOPML_RAY_ADDRESS): {exc}"
                ) from exc
            self._started = True
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        self.capabilities = ExecutorCapabilities(
            name="ray", parallel=True, separate_processes=True, max_workers=max_workers or cpus
        )
        self._remote: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[[P], R], payload: P) -> Future[R]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(max_retries=0)(fn)
        future: Future[R] = remote.remote(payload).future()
        return future

    def shutdown(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
