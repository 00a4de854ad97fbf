"""`Client`: the SDK in local mode, over a workspace's stores.

Users reach it through the namespaces it shares with `RemoteClient` (`datasets`, `runs`,
`models`, `approvals`, `auth`, `audit`, …; see `loopml.sdk.api`) and the tracking
methods the fluent functions forward to. `stores`, `tracking` and `dataset_service` are
the services underneath, for the loop's own machinery (pipelines, the server)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config import find_workspace, init_workspace, load_settings
from loopml.config.settings import Settings
from loopml.controller import TriggerService
from loopml.controller.pipeline_runs import PipelineRunService
from loopml.data import DatasetDiff, DatasetService, DatasetVersion
from loopml.data.versions import TableLike
from loopml.deployments import DeploymentService
from loopml.errors import ConfigError, ValidationError
from loopml.events import WebhookService
from loopml.features import FeatureStore, HistoricalFeatures, TrainingSet
from loopml.features.offline import EntityInput
from loopml.governance.audit import AuditEvent
from loopml.governance.identity import TokenSession
from loopml.monitoring.service import MonitorService
from loopml.pipelines.context import executing_client, executing_run
from loopml.rollouts import RolloutService
from loopml.rollouts.replay import ReplayOptions, ReplayService, parse_window
from loopml.sdk.api import LocalApprovals, LocalAudit, LocalAuth, LocalDatasets, LocalRuns
from loopml.sdk.models import ModelsAPI
from loopml.store import Stores, open_stores
from loopml.store.paging import Page
from loopml.store.principal import Principal
from loopml.tracking import MetricHistory, Run, RunList, RunRecord, TrackingService

REPRODUCES_TAG = "loopml.reproduces"
READ_ROLE = "read"  # a dataset a run read by itself, as opposed to declared training data


class Client:
    """The SDK in local mode: services over the workspace's stores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stores: Stores = open_stores(settings)
        self.dataset_service = DatasetService(self.stores)
        self.datasets = LocalDatasets(self.dataset_service)
        self.tracking = TrackingService(self.stores)
        self.runs = LocalRuns(self)
        self._local = threading.local()  # each thread has its own stack of active runs
        self.models = ModelsAPI(self.stores, self.tracking, self.dataset_service)
        self.approvals = LocalApprovals(self.models.approvals)
        self.auth = LocalAuth(self.models.identity, lambda: self.stores.actor)
        self.audit = LocalAudit(self.stores.engine)
        self.deployments = DeploymentService(self.stores, self.models.registry)
        self.rollouts = RolloutService(
            self.stores,
            self.deployments,
            self.models.registry,
            self.models.approvals,
            self.dataset_service,
        )
        self.features = FeatureStore(self.stores)
        self.monitors = MonitorService(
            self.stores,
            self.dataset_service,
            self.tracking,
            self.models.registry,
            self.deployments,
            self.features,
        )
        self.triggers = TriggerService(self.stores)
        self.webhooks = WebhookService(self.stores)
        self.replays: ReplayService = self.rollouts.replays
        self.pipelines = PipelineRunService(self)
        if settings.token:
            try:
                self.login(settings.token)
            except BaseException:
                self.stores.close()
                raise
        self.recovered_runs = self.tracking.recover_journals()
        self.recovered_runs += self.tracking.recover_dead_runs()
        if settings.reproduce_run:
            self._pin_to(settings.reproduce_run)

    def _pin_to(self, run_id: str) -> None:
        """Resolve dataset names as the run being reproduced saw them."""
        for item in self.tracking.get_run(run_id).inputs:
            version = self.dataset_service.get(str(item["id"]))
            self.dataset_service.pins[version.name] = version.version

    # ------------------------------------------------------------------ identity
    @property
    def principal(self) -> Principal:
        """Who this client acts as: the token's principal, or the unauthenticated local
        user (`local:<os user>`)."""
        return self.stores.actor

    def login(self, token: str) -> Principal:
        """Act as the principal an API token belongs to (refused when unknown or revoked).

        The token is checked again as the client is used, so revoking it or letting it
        expire stops this client too (within `token_check_interval_s`).
        """
        self.stores.identity = TokenSession(
            self.models.identity, token, self.settings.token_check_interval_s
        )
        return self.stores.actor

    # ------------------------------------------------------------------ datasets
    def log_dataset(
        self,
        name: str,
        data: TableLike,
        *,
        time_column: str | None = None,
        parent: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        """Version a DataFrame, Arrow table, Parquet/CSV file or folder under `name`."""
        return self.datasets.log(
            name, data, time_column=time_column, parent=parent, description=description
        )

    def get_dataset(self, ref: str) -> DatasetVersion:
        """A dataset version by reference; inside an active run it becomes an input of the
        run (role `read`), so the run can be reproduced on the same data."""
        return self._read(self.datasets.get(ref))

    def load_dataset(
        self, ref: str | DatasetVersion, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """A version as a DataFrame; inside an active run it becomes an input (role `read`)."""
        return self.datasets.load(self._read(self.datasets.get(ref)), columns)

    def _read(self, version: DatasetVersion) -> DatasetVersion:
        """Link a version read by the caller to the active run, or, with none active, to
        the next run this thread starts (a script that loads its data, then starts a run)."""
        run = self.active_run()
        if run is None:
            pending = self._pending_reads()
            if version not in pending:
                pending.append(version)
        elif version.id not in run.input_ids:
            run.log_input(version, role=READ_ROLE)
        return version

    def _pending_reads(self) -> list[DatasetVersion]:
        found: list[DatasetVersion] | None = getattr(self._local, "reads", None)
        if found is None:
            found = self._local.reads = []
        return found

    def list_datasets(
        self, name: str | None = None, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        """Dataset versions by name and number, a page at a time (`next_page_token`)."""
        return self.datasets.list(name, max_results=max_results, page_token=page_token)

    def diff_datasets(self, old: str | DatasetVersion, new: str | DatasetVersion) -> DatasetDiff:
        """What changed from `old` to `new`: rows, schema, per-column statistics."""
        return self.datasets.diff(old, new)

    # ------------------------------------------------------------------ runs
    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: Iterable[DatasetVersion | str] | None = None,
        nested: bool = False,
        parent: Run | str | None = None,
        capture_code: bool = True,
    ) -> Run:
        """Start a run; use it as a context manager so it always ends with a status."""
        active = self.active_run()
        if parent is None and active is not None:
            if not nested:
                raise ValidationError(
                    f"run {active.id} is still active; end it first, or pass nested=True "
                    "to start a child run"
                )
            parent = active
        parent_id = parent.id if isinstance(parent, Run) else parent
        if self.settings.reproduce_run:
            tags = {**(tags or {}), REPRODUCES_TAG: self.settings.reproduce_run}
        run_id = self.tracking.create_run(
            experiment, name, parent_id=parent_id, tags_=tags, capture=capture_code
        )
        run = Run(
            self.tracking,
            run_id,
            experiment,
            self._dataset_id,
            on_end=self._forget,
            model_logger=self.models.log_model,
        )
        self._stack().append(run)
        run._owner_stack = self._stack()  # type: ignore[attr-defined]
        try:
            if params:
                run.log_params(params)
            for dataset in inputs or []:
                run.log_input(dataset)
            read_before, self._local.reads = self._pending_reads(), []
            for version in read_before:
                if version.id not in run.input_ids:
                    run.log_input(version, role=READ_ROLE)
        except BaseException as exc:
            run.end("FAILED", error=f"invalid start_run arguments: {exc}")
            raise
        return run

    def _stack(self) -> list[Run]:
        stack: list[Run] | None = getattr(self._local, "runs", None)
        if stack is None:
            stack = self._local.runs = []
        return stack

    def active_run(self) -> Run | None:
        """The innermost run started by this thread and not yet ended."""
        stack = self._stack()
        return stack[-1] if stack else None

    def _forget(self, run: Run) -> None:
        for stack in (self._stack(), getattr(run, "_owner_stack", [])):
            if run in stack:
                stack.remove(run)

    def _dataset_id(self, dataset: Any) -> str:
        if isinstance(dataset, DatasetVersion):
            return dataset.id
        if isinstance(dataset, str):
            return self.datasets.get(dataset).id
        raise ValidationError(
            f"an input must be a DatasetVersion or a reference like 'bikes@3', got {dataset!r}"
        )

    def get_run(self, run_id: str) -> RunRecord:
        return self.tracking.get_run(run_id)

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching a filter such as "metrics.rmse < 3 and params.model = 'gbm'"."""
        return self.tracking.search_runs(experiment, filter, order_by, max_results, page_token)

    def metric_history(self, run_id: str, key: str, max_points: int | None = None) -> MetricHistory:
        """Every point of `key` (or `max_points` spread evenly), as a sequence of
        `MetricPoint` backed by arrays (`.steps`, `.values`, `.timestamps`, `.to_pandas()`)."""
        return self.tracking.metric_history(run_id, key, max_points)

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self.tracking.list_artifacts(run_id)

    def list_experiments(self) -> list[dict[str, Any]]:
        return self.tracking.list_experiments()

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self.tracking.read_artifact(run_id, path)

    # ------------------------------------------------------------------ replay
    def replay(
        self,
        candidate: str,
        deployment: str,
        window: str = "7d",
        *,
        stable: str | None = None,
        store: bool = True,
        **options: Any,
    ) -> dict[str, Any]:
        """Score `deployment`'s logged requests of `window` (`7d`, or `SINCE..UNTIL`) with
        `candidate` and the stable version; the report is stored as an evaluation of the
        candidate (options: metric, max_drop, min_labelled, tolerance, page_rows)."""
        since, until = parse_window(window)
        return self.replays.run(
            candidate,
            deployment,
            since=since,
            until=until,
            stable=stable,
            options=ReplayOptions(**options),
            store=store,
        )

    # ------------------------------------------------------------------ audit
    def audit_events(
        self,
        obj: str | None = None,
        *,
        newest_first: bool = True,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """One page of the audit trail, newest first, optionally about `obj` (e.g.
        `model:bikes`, which takes in its versions and aliases)."""
        return self.audit.events(
            obj, newest_first=newest_first, max_results=max_results, page_token=page_token
        )

    # ------------------------------------------------------------------ features
    def get_historical_features(
        self, entity_df: Any, features: list[str] | str, **options: Any
    ) -> HistoricalFeatures:
        """Point-in-time correct features for every entity row (a service name or refs)."""
        return self.features.get_historical_features(entity_df, features, **options)

    def training_set(
        self,
        service: str,
        entities: EntityInput | DatasetVersion,
        *,
        name: str | None = None,
        timestamp_column: str | None = None,
        description: str | None = None,
    ) -> TrainingSet:
        """A feature service's point-in-time training set for `entities` (rows, a Parquet
        path or `dataset:NAME@V`), logged as dataset `name` (default `<service>-training`)
        with lineage to every view's dataset version. Inside a run (or a pipeline step) it
        becomes the run's training input, so the model trained there traces back to it."""
        built = self.features.training_set(
            service,
            entities,
            name=name,
            timestamp_column=timestamp_column,
            description=description,
        )
        run = self.active_run()
        if run is None and executing_client() is self:
            run = executing_run()
        if run is not None and built.version.id not in run.input_ids:
            run.log_input(built.version, role="training")
        return built

    def get_online_features(
        self, entity_rows: list[dict[str, Any]], features: list[str] | str
    ) -> dict[str, list[Any]]:
        """The latest online values for each entity row: `{column: [values]}`."""
        return self.features.get_online_features(entity_rows, features)

    def close(self) -> None:
        self.features.close()
        self.stores.close()


def connect(
    path: str | Path | None = None,
    *,
    store_url: str | None = None,
    artifacts_url: str | None = None,
    create: bool = True,
    **settings: Any,
) -> Client:
    """Open the workspace at `path` (default: the nearest one above the current folder),
    or explicit store URLs. Without a workspace, one is created in the current folder unless
    `create=False`, which raises `ConfigError` instead."""
    if path is not None:
        root = Path(path).resolve()
        if not root.is_dir():
            raise ValidationError(
                f"workspace folder {root} does not exist; run `loopml init` there"
            )
    else:
        root = find_workspace() or Path.cwd()
    configured = store_url is not None or "LOOPML_STORE_URL" in os.environ
    if find_workspace(root) is None and not configured:
        if not create:
            raise ConfigError(
                f"no loopml workspace at or above {root}; run `loopml init` there, pass "
                "--workspace, or set LOOPML_STORE_URL"
            )
        init_workspace(root)
    return Client(load_settings(root, store_url=store_url, artifacts_url=artifacts_url, **settings))
