"""Tracking: experiments, runs and their artifacts, composed behind one service.

Writes live in experiments.py, runs.py and run_artifacts.py; the reads (one run, a metric's
history, run search) are here. `Run` (run.py) is the handle a training script holds.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from loopml.errors import NotFoundError, ValidationError
from loopml.store import Stores
from loopml.store.schema import metrics
from loopml.tracking.experiments import Experiments
from loopml.tracking.records import MetricPoint, RunList, RunRecord, normalize_run_id
from loopml.tracking.run_artifacts import RunArtifacts
from loopml.tracking.run_query import RUN_BY_ID, page_query, records
from loopml.tracking.runs import Runs, require_run

MAX_RESULTS_LIMIT = 50_000


class TrackingService:
    """Create, update and query experiments and runs."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.experiments = Experiments(stores)
        self.runs = Runs(stores, self.experiments)
        self.artifacts = RunArtifacts(stores)
        # The write API, by concept.
        self.experiment_id = self.experiments.experiment_id
        self.list_experiments = self.experiments.list_experiments
        self.create_run = self.runs.create_run
        self.open_metric_writer = self.runs.open_metric_writer
        self.end_run = self.runs.end_run
        self.log_params = self.runs.log_params
        self.log_batch = self.runs.log_batch
        self.set_tags = self.runs.set_tags
        self.log_input = self.runs.log_input
        self.recover_journals = self.runs.recover_journals
        self.log_artifact = self.artifacts.log_artifact
        self.log_artifact_bytes = self.artifacts.log_artifact_bytes
        self.list_artifacts = self.artifacts.list_artifacts
        self.artifact_digest = self.artifacts.artifact_digest
        self.read_artifact = self.artifacts.read_artifact

    def get_run(self, run_id: str) -> RunRecord:
        run_id = normalize_run_id(run_id)
        with self.engine.connect() as conn:
            rows = RUN_BY_ID.fetchall(conn, {"run_id": run_id})
            if not rows:
                raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
            return records(conn, rows)[0]

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        run_id = normalize_run_id(run_id)
        with self.engine.connect() as conn:
            require_run(conn, run_id)
            rows = conn.execute(
                select(metrics.c.step, metrics.c.value, metrics.c.timestamp)
                .where(metrics.c.run_id == run_id, metrics.c.key == key)
                .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
            )
            return [MetricPoint(int(s), float(v), float(t)) for s, v, t in rows]

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching `filter`, sorted by `order_by`, one page at a time."""
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not (0 < max_results <= MAX_RESULTS_LIMIT)
        ):
            raise ValidationError(f"max_results must be an integer from 1 to {MAX_RESULTS_LIMIT}")
        offset = _decode_token(page_token)
        values: dict[str, Any] = {"limit": max_results + 1, "offset": offset}
        names = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            values.update(
                (f"experiment_{i}", self.experiment_id(name, create=False))
                for i, name in enumerate(names)
            )
        orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
        query = page_query(filter, orders, None if names is None else len(names))
        with self.engine.connect() as conn:
            rows = query.fetchall(conn, values)
            more = len(rows) > max_results
            found = records(conn, rows[:max_results])
        return RunList(found, _encode_token(offset + max_results) if more else None)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationError("page_token is not one returned by search_runs; pass it back unchanged")
