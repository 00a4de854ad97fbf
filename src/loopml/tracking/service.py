"""Tracking: experiments, runs and their artifacts, composed behind one service.

Writes live in experiments.py, runs.py and run_artifacts.py; the reads (one run, a metric's
history, run search) are here. `Run` (run.py) is the handle a training script holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from loopml.errors import NotFoundError, ValidationError
from loopml.governance import require
from loopml.store import Stores
from loopml.tracking.experiments import Experiments
from loopml.tracking.history import read_history
from loopml.tracking.lifecycle import RunLifecycle
from loopml.tracking.records import RunList, RunRecord
from loopml.tracking.run_artifacts import RunArtifacts
from loopml.tracking.run_digest import metric_rows
from loopml.tracking.run_query import RUN_BY_ID, fetch_page, records, resolve_run_id
from loopml.tracking.runs import Runs
from loopml.tracking.series import MetricHistory
from loopml.tracking.snapshots import write_snapshots
from loopml.tracking.streams import MetricStreams

MAX_RESULTS_LIMIT = 50_000


class TrackingService:
    """Create, update and query experiments and runs."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.experiments = Experiments(stores)
        self.runs = Runs(stores, self.experiments)
        self.artifacts = RunArtifacts(stores)
        self.streams = MetricStreams(stores, self.runs)
        self.lifecycle = RunLifecycle(stores)
        # The write API, by concept.
        self.experiment_id = self.experiments.experiment_id
        self.list_experiments = self.experiments.list_experiments
        self.get_experiment = self.experiments.get_experiment
        self.create_run = self.runs.create_run
        self.open_metric_writer = self.runs.open_metric_writer
        self.end_run = self.runs.end_run
        self.log_params = self.runs.log_params
        self.log_batch = self.runs.log_batch
        self.set_tags = self.runs.set_tags
        self.delete_tags = self.runs.delete_tags
        self.delete_run = self.lifecycle.delete_run
        self.restore_run = self.lifecycle.restore_run
        self.set_run_times = self.lifecycle.set_run_times
        self.set_experiment_tags = self.lifecycle.set_experiment_tags
        self.experiment_tags = self.lifecycle.experiment_tags
        self.log_input = self.runs.log_input
        self.recover_journals = self.runs.recover_journals
        self.recover_dead_runs = self.runs.recover_dead_runs
        self.log_artifact = self.artifacts.log_artifact
        self.log_artifact_bytes = self.artifacts.log_artifact_bytes
        self.attach_stored_artifact = self.artifacts.attach_stored
        self.list_artifacts = self.artifacts.list_artifacts
        self.artifact_digest = self.artifacts.artifact_digest
        self.read_artifact = self.artifacts.read_artifact

    def resolve_run_id(self, run_id: str) -> str:
        """The full id for a typed run id or an unambiguous start of one."""
        with self.engine.connect() as conn:
            return resolve_run_id(conn, run_id)

    def get_run(self, run_id: str) -> RunRecord:
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            rows = RUN_BY_ID.fetchall(conn, {"run_id": run_id})
            if not rows:
                raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
            return records(conn, rows)[0]

    def metric_history(self, run_id: str, key: str, max_points: int | None = None) -> MetricHistory:
        """Every point of `key`, or at most `max_points` spread evenly (history.py)."""
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            return read_history(conn, self.stores, run_id, key, max_points)

    def snapshot_metrics(self, run_id: str, min_points: int = 1) -> list[str]:
        """Write the columnar snapshot of every series of the run with at least
        `min_points` points (ending a run does this by itself for long series); returns
        the keys snapshotted."""
        require(self.stores.actor, "write", "snapshot metric series")
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            counts = {row[0]: row[1] for row in metric_rows(conn, run_id)}
        return write_snapshots(self.stores, run_id, counts, max(1, min_points))

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunList:
        """Runs matching `filter`, sorted by `order_by`, one page at a time; deleted runs
        only with `view` "deleted" or "all"."""
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not (0 < max_results <= MAX_RESULTS_LIMIT)
        ):
            raise ValidationError(f"max_results must be an integer from 1 to {MAX_RESULTS_LIMIT}")
        names = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
        ids = None if names is None else [self.experiment_id(n, create=False) for n in names]
        orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
        with self.engine.connect() as conn:
            found, token = fetch_page(conn, filter, orders, ids, max_results, page_token, view)
        return RunList(found, token)
