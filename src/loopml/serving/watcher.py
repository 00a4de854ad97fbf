"""Hot swap: follow the store's deployment revisions and swap route tables in one step.

A background thread asks the store for every served deployment's revision (one cheap
query) each `poll_interval_s`. For a changed revision it loads the new models in that
thread — reusing versions already in memory — then replaces the deployment's `RouteTable`
with a single assignment. Requests keep the table they started with; the previous table's
models stay loaded, so a rollback is instant. A failed load leaves the old table serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from loopml.deployments import Deployment, DeploymentService, Route
from loopml.errors import ValidationError
from loopml.registry.packaging import LoadedModel
from loopml.serving.batching import BatchingConfig
from loopml.serving.metrics import ServingMetrics
from loopml.serving.routing import RouteTable, Target
from loopml.serving.scoring import ModelRunner

log = logging.getLogger(__name__)

RETRY_FAILED_S = 30.0  # a revision whose models failed to load is retried this often


def batching_of(config: dict[str, Any], default: BatchingConfig | None) -> BatchingConfig | None:
    """A deployment's `config["batching"]`: false (off), true (defaults) or the settings."""
    value = config.get("batching", default)
    if value is None or isinstance(value, BatchingConfig):
        return value
    if value is False:
        return None
    if value is True:
        return BatchingConfig()
    if isinstance(value, dict):
        try:
            return BatchingConfig(**value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"config.batching {value!r} is invalid ({exc}); use "
                '{"max_rows": 64, "max_wait_ms": 2}, true or false'
            ) from exc
    raise ValidationError(f"config.batching must be true, false or an object, got {value!r}")


class ModelCache:
    """Loaded model versions by URI, shared by every deployment of the process."""

    def __init__(self, load: Callable[[str], LoadedModel], metrics: ServingMetrics) -> None:
        self._load = load
        self._metrics = metrics
        self._runners: dict[str, ModelRunner] = {}
        self._lock = threading.Lock()

    def get(self, uri: str) -> ModelRunner:
        with self._lock:
            runner = self._runners.get(uri)
        if runner is None:
            runner = ModelRunner(uri, self._load(uri))  # slow: outside the lock
            with self._lock:
                runner = self._runners.setdefault(uri, runner)
                self._metrics.loaded_models.set(len(self._runners))
        return runner

    def __contains__(self, uri: str) -> bool:
        return uri in self._runners

    def peek(self, uri: str) -> ModelRunner | None:
        """The loaded version `uri`, without loading it."""
        return self._runners.get(uri)

    def load(self, uri: str) -> LoadedModel:
        """Load a version without keeping it (slow: call it in a worker thread)."""
        return self._load(uri)

    def holds(self, runner: ModelRunner) -> bool:
        return self._runners.get(runner.uri) is runner

    def retain(self, uris: set[str]) -> None:
        """Forget every version not in `uris` (memory goes once no request holds it)."""
        with self._lock:
            self._runners = {uri: r for uri, r in self._runners.items() if uri in uris}
            self._metrics.loaded_models.set(len(self._runners))


class DeploymentWatcher:
    """The route tables this process serves, kept in step with the store."""

    def __init__(
        self,
        service: DeploymentService,
        cache: ModelCache,
        metrics: ServingMetrics,
        names: list[str] | None = None,
        poll_interval_s: float = 1.0,
        batching: BatchingConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.cache = cache
        self.metrics = metrics
        self.names = names
        self.poll_interval_s = poll_interval_s
        self.batching = batching
        self.clock = clock
        self.tables: dict[str, RouteTable] = {}  # replaced, never mutated: readers need no lock
        self.previous: dict[str, RouteTable] = {}
        self.problems: dict[str, str] = {}
        self.known: set[str] = set(names or [])
        self._failed: dict[str, tuple[int, float]] = {}
        self.swap_count = 0  # route tables swapped in so far
        self.after_sync: Callable[[], None] | None = None  # e.g. reload the data-plane tokens
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ state
    def missing(self) -> list[str]:
        """Deployments that should be served but have no route table yet."""
        return sorted(self.known - set(self.tables))

    # ------------------------------------------------------------------ polling
    def sync(self) -> None:
        """One poll: swap in every deployment whose revision changed."""
        revisions = self.service.revisions(self.names)
        self.known = set(self.names) if self.names is not None else set(revisions)
        for name, revision in revisions.items():
            current = self.tables.get(name)
            if current is not None and current.revision == revision:
                continue
            failed = self._failed.get(name)
            if failed and failed[0] == revision and self.clock() - failed[1] < RETRY_FAILED_S:
                continue
            try:
                table = self._build(self.service.get(name))
            except Exception as exc:
                self._failed[name] = (revision, self.clock())
                self.problems[name] = f"revision {revision} could not be loaded: {exc}"
                self.metrics.watcher_errors.inc()
                log.exception("deployment %s revision %s: loading failed", name, revision)
                continue
            self._swap(name, table)
        gone = set(self.tables) - set(revisions)
        if gone:
            self.tables = {n: t for n, t in self.tables.items() if n not in gone}
            for name in gone:
                self.previous.pop(name, None)
        keep: set[str] = set()
        for table in [*self.tables.values(), *self.previous.values()]:
            keep |= table.uris
        self.cache.retain(keep)
        if self.after_sync is not None:
            self.after_sync()

    def _build(self, deployment: Deployment) -> RouteTable:
        name = deployment.name

        def target(route: Route) -> Target:
            uri = route.uri
            meter = self.metrics.meter(name, uri)
            return Target(uri, self.cache.get(uri), float(route.weight), meter)

        return RouteTable.build(
            name,
            deployment.revision,
            [target(r) for r in deployment.routes],
            [target(r) for r in deployment.shadows],
            sticky_key=deployment.sticky_key,
            strategy=deployment.strategy,
            batching=batching_of(deployment.config, self.batching),
            features=deployment.config.get("feature_service"),
            inputs=deployment.input_policy,
        )

    def _swap(self, name: str, table: RouteTable) -> None:
        old = self.tables.get(name)
        self.tables = {**self.tables, name: table}  # the atomic step
        self.swap_count += 1
        if old is not None:
            self.previous[name] = old
        self.problems.pop(name, None)
        self._failed.pop(name, None)
        self.metrics.revision.labels(name).set(table.revision)
        self.metrics.swaps.labels(name).inc()
        log.info("deployment %s now serves revision %s", name, table.revision)

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loopml-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.sync()
            except Exception:  # the store may be briefly unreachable: keep serving
                self.metrics.watcher_errors.inc()
                log.exception("polling deployment revisions failed")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
