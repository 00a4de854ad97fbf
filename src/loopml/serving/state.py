"""`ServingState`: everything one serving app holds, hung on `app.state.serving`."""

from __future__ import annotations

import gc
import itertools
import logging
import os
import re
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from loopml.features import FeatureStore
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.serving.auth import DataPlaneAuth
from loopml.serving.batching import MicroBatcher
from loopml.serving.feedback import AnsweredRequests, FeedbackAudit, LabelRule
from loopml.serving.metrics import ServingMetrics
from loopml.serving.routing import RouteTable
from loopml.serving.scoring import ModelRunner
from loopml.serving.shadow import ShadowScorer
from loopml.serving.watcher import DeploymentWatcher, ModelCache
from loopml.store import Stores

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def settle_heap(*, collect: bool) -> None:
    """Move every object alive now (modules, loaded models) out of the collector's sight.

    A full collection scans every tracked object: with scikit-learn, pandas and a model
    loaded that is ~300,000 objects and 130-450 ms with the GIL held, which is what stalled
    a busy server (docs/serving.md, "Pauses"). Frozen objects are never scanned again, so
    the collections that remain only see what requests create. `collect` first frees
    what is garbage already (a start-up pause, before any request is taken).
    """
    if collect:
        gc.collect()
    gc.freeze()


@dataclass
class ServingState:
    """The watcher, the loaded models, the logs and the metrics of one app."""

    stores: Stores
    watcher: DeploymentWatcher
    cache: ModelCache
    metrics: ServingMetrics
    shadows: ShadowScorer
    auth: DataPlaneAuth
    log_predictions: bool = True
    log_flush_interval_s: float = 1.0
    predictions: PredictionLog | None = None  # opened by start(): it creates a journal file
    max_body_bytes: int = MAX_BODY_BYTES
    inline_rows: int = 256  # larger requests are scored in a worker thread
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="loopml-predict")
    )
    batchers: dict[tuple[str, str], MicroBatcher] = field(default_factory=dict)
    answered: AnsweredRequests = field(default_factory=AnsweredRequests)
    label_rules: dict[str, LabelRule] = field(default_factory=dict)
    feedback_audit: FeedbackAudit | None = None
    arriving: int = 0  # predict requests reading their body (micro-batches wait for them)
    _frozen_swaps: int = 0
    _features: FeatureStore | None = None  # opened when a deployment first needs features
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _prefix: str = field(default_factory=lambda: os.urandom(4).hex())

    def request_id(self, given: str | None) -> str:
        """The client's X-Request-Id when it is a sane token, else a new unique one."""
        if given is not None and _CLIENT_ID.match(given):
            return given
        return f"req-{self._prefix}-{next(self._ids):x}"

    def batcher(self, table: RouteTable, runner: ModelRunner) -> MicroBatcher | None:
        """The micro-batcher of a deployment's model version (made on first use, on the loop)."""
        config = table.batching
        if config is None:
            return None
        key = (table.deployment, runner.uri)
        batcher = self.batchers.get(key)
        if batcher is None or batcher.runner is not runner or batcher.config != config:
            self.batchers = {k: b for k, b in self.batchers.items() if self.cache.holds(b.runner)}
            batcher = MicroBatcher(
                runner,
                config,
                self.executor,
                self.metrics,
                inline_rows=self.inline_rows,
                arriving=lambda: self.arriving,
            )
            self.batchers[key] = batcher
        return batcher

    async def read_counted(self, reading: Awaitable[bytes]) -> bytes:
        """Await a request body, counted in `arriving` meanwhile."""
        self.arriving += 1
        try:
            return await reading
        finally:
            self.arriving -= 1

    @property
    def features(self) -> FeatureStore:
        if self._features is None:
            self._features = FeatureStore(self.stores)
        return self._features

    def record(self, record: PredictionRecord) -> None:
        """Hand one prediction (or failed request) to the log; a logging failure never fails
        the request."""
        if self.predictions is None:
            return
        try:
            self.predictions.record(record)
        except Exception:
            self.metrics.log_errors.inc()
            log.exception("prediction log refused a record")

    def start(self) -> None:
        """Blocking start-up (run in a thread): recover and open the log, load the routes."""
        if self.log_predictions:
            # Segments are built in a writer process: they take no GIL time from requests.
            self.predictions = PredictionLog(
                self.stores, writer="process", flush_interval_s=self.log_flush_interval_s
            )
            self.predictions.recover()
            self.predictions.start()
        try:
            self.watcher.sync()
        except Exception:  # the store is unreachable: /readyz says so, the watcher retries
            self.metrics.watcher_errors.inc()
            log.exception("first load of the deployments failed")
        settle_heap(collect=True)
        self._frozen_swaps = self.watcher.swap_count
        self.watcher.start()
        self.metrics.start()

    def after_poll(self) -> None:
        """Freeze the objects of models a hot swap loaded, as start() did for the first."""
        if self.watcher.swap_count != self._frozen_swaps:
            self._frozen_swaps = self.watcher.swap_count
            settle_heap(collect=False)  # a full collection here would stall requests

    def stop(self) -> None:
        """Blocking shutdown: stop polling, finish shadow jobs, flush the prediction log."""
        self.watcher.stop()
        self.shadows.close(wait=True)
        self.executor.shutdown(wait=True)
        if self.predictions is not None:
            self.predictions.close()
        if self._features is not None:
            self._features.close()
        self.audit_feedback(final=True)
        self.metrics.close()

    def audit_feedback(self, final: bool = False) -> None:
        """Write the feedback counts to the audit trail (each minute, and at shutdown)."""
        if self.feedback_audit is None:
            return
        try:
            if final:
                self.feedback_audit.flush()
            else:
                self.feedback_audit.maybe_flush()
        except Exception:  # the store may be briefly unreachable: the counts are retried
            log.exception("auditing feedback counts failed")
