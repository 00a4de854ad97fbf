"""Shadow scoring: the same input, scored by shadow models after the answer has gone.

Shadows run in a small thread pool with a bounded backlog; when it is full, the job is
dropped and counted, so a slow shadow can never slow down or fail live traffic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from loopml.deployments import InputPolicy
from loopml.prediction_log import PredictionRecord
from loopml.serving.errors import ServingError
from loopml.serving.metrics import ServingMetrics
from loopml.serving.parsing import Payload
from loopml.serving.routing import Target
from loopml.serving.validation import STRICT

log = logging.getLogger(__name__)

Recorder = Callable[[PredictionRecord], None]


class ShadowScorer:
    """Bounded background scoring of shadow routes; results go only to the prediction log."""

    def __init__(
        self, metrics: ServingMetrics, record: Recorder, workers: int = 1, backlog: int = 256
    ) -> None:
        self.metrics = metrics
        self.record = record
        self.backlog = backlog
        self._pending = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="loopml-shadow")

    def submit(
        self,
        deployment: str,
        request_id: str,
        payload: Payload,
        target: Target,
        policy: InputPolicy = STRICT,
        event_time: float | None = None,
    ) -> bool:
        """Queue one shadow scoring under the deployment's input policy; False (and a
        `dropped` count) when the backlog is full."""
        with self._lock:
            if self._pending >= self.backlog:
                self.metrics.shadow.labels(deployment, target.uri, "dropped").inc()
                return False
            self._pending += 1
        try:
            self._pool.submit(
                self._run, deployment, request_id, payload, target, policy, event_time
            )
        except RuntimeError:  # shutting down
            self._done()
            return False
        return True

    def _run(
        self,
        deployment: str,
        request_id: str,
        payload: Payload,
        target: Target,
        policy: InputPolicy,
        event_time: float | None,
    ) -> None:
        outcome = "scored"
        try:
            started = time.perf_counter()
            runner = target.runner
            checked = runner.check(payload, policy, deployment)
            scores = runner.score(checked.rows)
            self.record(
                PredictionRecord(
                    deployment=deployment,
                    request_id=request_id,
                    model=target.uri,
                    inputs=runner.records_of(payload, checked, scores),
                    outputs=scores.predictions,
                    probabilities=scores.probabilities,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    shadow=True,
                    at=time.time(),
                    event_time=event_time,
                    unseen=checked.unseen,
                )
            )
        except ServingError:
            outcome = "invalid"  # the input does not fit the shadow's signature
        except Exception:
            outcome = "failed"
            log.exception("shadow scoring by %s failed", target.uri)
        finally:
            self.metrics.shadow.labels(deployment, target.uri, outcome).inc()
            self._done()

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1

    def close(self, wait: bool = True) -> None:
        """Finish (or with wait=False, abandon) queued shadow jobs."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
