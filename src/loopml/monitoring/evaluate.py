"""One window of a monitor's source → drift, prediction drift, label drift, performance
and latency."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import select

from loopml.data import DatasetService, DatasetVersion
from loopml.deployments import DeploymentService
from loopml.errors import NotFoundError, ValidationError
from loopml.features import FeatureStore
from loopml.monitoring.baseline import Baseline
from loopml.monitoring.definition import Monitor
from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.monitoring.estimated import PerformanceEstimates
from loopml.monitoring.label_drift import label_drift, reference_target
from loopml.monitoring.performance import performance
from loopml.monitoring.reference import (
    PREDICTION,
    Reference,
    default_columns,
    primary_version,
    reference_relation,
    scored_reference,
    training_dataset,
)
from loopml.monitoring.results import DriftResult, PerformanceResult, WindowResult
from loopml.monitoring.view_windows import ViewMonitors
from loopml.monitoring.windows.plan import SERVED, Span, plan_windows, span_label
from loopml.monitoring.windows.queries import labelled_rows, latency_by_model, unseen_rows
from loopml.prediction_log import queries
from loopml.registry import ModelVersion, RegistryService
from loopml.store import Stores
from loopml.store.schema import monitor_results
from loopml.tracking import TrackingService

INPUT = "in_"


@dataclass(frozen=True)
class PlannedWindow:
    """A window to evaluate and the cursor value that marks it done."""

    span: Span | None  # deployment sources
    version: DatasetVersion | None  # dataset sources
    cursor: float


class WindowEvaluator:
    """Turns a monitor and a planned window into a `WindowResult`."""

    def __init__(
        self,
        stores: Stores,
        datasets: DatasetService,
        tracking: TrackingService,
        registry: RegistryService,
        deployments: DeploymentService,
        features: FeatureStore | None = None,
    ) -> None:
        self.stores = stores
        self.datasets = datasets
        self.tracking = tracking
        self.registry = registry
        self.deployments = deployments
        self._class_cache: dict[str, list[Any] | None] = {}
        self._scored_cache: dict[tuple[str, str], pd.DataFrame | None] = {}
        self.baseline = Baseline()
        self.estimates = PerformanceEstimates(datasets, registry)
        self.views = ViewMonitors(features or FeatureStore(stores), self.baseline)

    # ------------------------------------------------------------------ reference
    def reference(self, monitor: Monitor) -> Reference:
        source = monitor.source
        if source.feature_view is not None:
            raise ValidationError(
                f"monitor {monitor.name!r} watches a feature view: its reference is rows of "
                "the view (see `reference_uri`), not a dataset with a model"
            )
        if source.deployment is not None:
            model = primary_version(self.registry, self.deployments.get(source.deployment))
            if monitor.reference is not None:
                return Reference(self.datasets.get(monitor.reference), model)
            return Reference(training_dataset(self.tracking, self.datasets, model), model)
        if monitor.reference is not None:
            return Reference(self.datasets.get(monitor.reference), None)
        oldest = self.datasets.list(source.dataset, max_results=1)
        if not oldest:
            raise NotFoundError(f"dataset {source.dataset!r} has no versions to compare with")
        return Reference(oldest[0], None)

    def reference_uri(self, monitor: Monitor) -> str | None:
        try:
            if monitor.source.feature_view is not None:
                return self.views.reference(monitor).uri
            return self.reference(monitor).dataset.uri
        except ValidationError:
            return None

    def columns(self, monitor: Monitor, reference: Reference) -> list[str]:
        if monitor.config.columns is not None:
            return list(monitor.config.columns)
        config = monitor.config
        exclude = {c for c in (config.target, config.prediction, PREDICTION) if c}
        if reference.dataset.time_column:
            exclude.add(reference.dataset.time_column)
        return default_columns(reference, exclude)

    def check_options(self, monitor: Monitor) -> None:
        """Fail at creation, not at the first run: reference, columns and test options."""
        if monitor.source.feature_view is not None:
            self._options(monitor)
            self.baseline.check_options(monitor, self.views.reference(monitor))
            return
        if monitor.config.estimate and monitor.source.deployment is None:
            raise ValidationError(
                "performance estimation reads a deployment's prediction log: watch "
                "deployment:NAME, or turn estimate off"
            )
        reference = self.reference(monitor)
        self.columns(monitor, reference)
        self._options(monitor)
        self.baseline.check_options(monitor, reference.dataset)

    def _options(self, monitor: Monitor) -> DriftOptions:
        config = monitor.config
        return DriftOptions(
            tests=dict(config.tests) or None,
            thresholds=dict(config.thresholds) or None,
            drift_share=config.drift_share,
        )

    def _single_column_options(self, monitor: Monitor, column: str) -> DriftOptions:
        """The monitor's options restricted to one column (its own or the `*` entries)."""
        config = monitor.config
        keep = ("*", column)
        return DriftOptions(
            tests={k: v for k, v in config.tests.items() if k in keep} or None,
            thresholds={k: v for k, v in config.thresholds.items() if k in keep} or None,
            drift_share=1.0,
        )

    # ------------------------------------------------------------------ windows
    def windows(
        self, monitor: Monitor, now: float, *, partial: bool, limit: int
    ) -> list[PlannedWindow]:
        source = monitor.source
        if source.feature_view is not None:
            spans = self.views.windows(monitor, partial=partial, limit=limit)
            return [PlannedWindow(span, None, span.end) for span in spans]
        if source.deployment is not None:
            # Rows younger than the label delay wait: their ground truth may still come.
            settled = now - monitor.config.label_delay_s
            with queries.connect(
                self.stores,
                source.deployment,
                monitor.cursor,
                time_basis=monitor.config.time_basis,
            ) as conn:
                spans = plan_windows(
                    conn,
                    monitor.config.window,
                    monitor.cursor,
                    settled,
                    partial=partial,
                    limit=limit,
                )
            return [PlannedWindow(span, None, span.end) for span in spans]
        after = monitor.cursor or 0.0
        reference = self.reference(monitor)
        newer = self.datasets.list(source.dataset, newer_than=int(after), max_results=limit + 1)
        versions = [v for v in newer if v.id != reference.dataset.id]
        return [PlannedWindow(None, v, float(v.version)) for v in versions[:limit]]

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, monitor: Monitor, planned: PlannedWindow) -> WindowResult:
        if monitor.source.feature_view is not None and planned.span is not None:
            return self.views.evaluate(monitor, planned.span, self._options(monitor))
        if planned.span is not None:
            return self._deployment_window(monitor, planned.span)
        assert planned.version is not None
        return self._dataset_window(monitor, planned.version)

    def _deployment_window(self, monitor: Monitor, span: Span) -> WindowResult:
        deployment = monitor.source.deployment or ""
        reference = self.reference(monitor)
        columns = self.columns(monitor, reference)
        options = self._options(monitor)
        basis = monitor.config.time_basis
        with queries.connect(
            self.stores, deployment, span.start, span.end, time_basis=basis
        ) as conn:
            bounds = f"time >= {span.start!r} AND time < {span.end!r}"
            names = {row[0] for row in conn.execute("DESCRIBE predictions").fetchall()}
            picked = [f'"{INPUT}{c}" AS "{c}"' for c in columns if f"{INPUT}{c}" in names]
            if "prediction" in names:
                picked.append("prediction")
            current = conn.sql(
                f"SELECT {', '.join(picked) or '1 AS _none'} FROM predictions "
                f"WHERE {SERVED} AND {bounds}"
            )
            ref = reference_relation(conn, self.datasets, reference.dataset)
            times = None
            if monitor.config.seasonal:
                times = conn.sql(
                    f"SELECT to_timestamp(time) AS t FROM predictions WHERE {SERVED} AND {bounds}"
                ).df()["t"]
            drift = self.baseline.drift(
                monitor,
                reference.dataset,
                ref,
                current,
                columns=columns,
                options=options,
                rows=span.rows,
                window_times=times,
            )
            drift = self._with_prediction_drift(monitor, conn, reference, current, drift, span)
            labelled = labelled_rows(conn, span.start, span.end)
            latencies = latency_by_model(conn, span.start, span.end)
            unseen = unseen_rows(conn, span.start, span.end)
            quality = (
                performance(
                    labelled,
                    task=monitor.config.task,
                    labels=self._classes(labelled),
                    min_class_rows=monitor.config.min_class_rows,
                )
                if span.rows
                else None
            )
            drift = self._with_label_drift(
                monitor,
                reference,
                ref,
                drift,
                labelled["label"],
                task=quality.task if quality is not None else monitor.config.task,
                times=pd.to_datetime(labelled["time"], unit="s", utc=True),
            )
        estimated = None
        if monitor.config.estimate and span.rows and reference.model is not None:
            labelled_from = self.estimates.reference(monitor, reference.dataset)
            estimated = self.estimates.window(monitor, reference.model, labelled_from, labelled)
        return WindowResult(
            label=span_label(span),
            start=span.start,
            end=span.end,
            rows=span.rows,
            drift=drift,
            performance=quality
            if quality is not None
            else PerformanceResult(None, 0, 0, {}, status="empty", message="no predictions"),
            latency=latencies,
            unseen_rows=unseen,
            estimated=estimated,
        )

    def _with_label_drift(
        self,
        monitor: Monitor,
        reference: Reference,
        ref: duckdb.DuckDBPyRelation,
        drift: DriftResult,
        labels: pd.Series,
        *,
        task: str | None,
        times: pd.Series | None,
    ) -> DriftResult:
        """Add the drift of the window's feedback labels against the reference's target."""
        target = reference_target(monitor, reference)
        if target is None or target not in ref.columns:
            return drift
        column = label_drift(
            self.baseline,
            monitor,
            reference.dataset,
            ref,
            labels,
            target=target,
            task=task,
            options=self._single_column_options(monitor, target),
            window_times=times,
        )
        return drift if column is None else replace(drift, columns=[*drift.columns, column])

    def _classes(self, labelled: pd.DataFrame) -> list[Any] | None:
        """The class order of the window's probability columns: the model's `classes_`."""
        if not any(str(c).startswith("proba_") for c in labelled.columns) or labelled.empty:
            return None
        models = labelled["model"].dropna()
        if models.empty:
            return None
        uri = str(models.mode().iloc[0])
        if uri not in self._class_cache:
            raw = self.registry.load(uri).raw
            classes = getattr(raw, "classes_", None)
            self._class_cache[uri] = None if classes is None else list(classes)
        return self._class_cache[uri]

    def _scored(self, reference: Reference, model: ModelVersion) -> pd.DataFrame | None:
        """The reference's predictions, computed once per (model version, reference): a run
        of many windows loads and scores the model one time, not once per window."""
        key = (model.id, reference.dataset.id)
        if key not in self._scored_cache:
            self._scored_cache[key] = scored_reference(
                self.registry, self.datasets, reference, model
            )
        return self._scored_cache[key]

    def _with_prediction_drift(
        self,
        monitor: Monitor,
        conn: duckdb.DuckDBPyConnection,
        reference: Reference,
        current: duckdb.DuckDBPyRelation,
        drift: DriftResult,
        span: Span,
    ) -> DriftResult:
        """Add the prediction column's drift against the reference's predictions."""
        if PREDICTION not in current.columns or reference.model is None:
            return drift
        baseline = self._scored(reference, reference.model)
        what = "the model's predictions on the reference"
        if baseline is None:
            first = self._first_window(monitor)
            if first is None or first[0] >= span.start:
                return drift  # this is the first window: it is the baseline
            what = "the monitor's first window"
            deployment = monitor.source.deployment or ""
            with queries.connect(
                self.stores,
                deployment,
                first[0],
                first[1],
                time_basis=monitor.config.time_basis,
            ) as earlier:
                baseline = earlier.execute(
                    f"SELECT prediction FROM predictions WHERE {SERVED} "
                    f"AND time >= {first[0]!r} AND time < {first[1]!r}"
                ).df()
            if baseline.empty:
                return drift
        column = check_drift(
            baseline,
            current.project(PREDICTION).df(),
            columns=[PREDICTION],
            options=self._single_column_options(monitor, PREDICTION),
        ).columns[0]
        message = f"compared with {what}" + (f"; {column.message}" if column.message else "")
        marked = replace(column, is_prediction=True, message=message)
        return replace(drift, columns=[*drift.columns, marked])

    def _first_window(self, monitor: Monitor) -> tuple[float, float] | None:
        with self.stores.engine.connect() as conn:
            row = conn.execute(
                select(monitor_results.c.window_start, monitor_results.c.window_end)
                .where(monitor_results.c.monitor == monitor.name, monitor_results.c.rows > 0)
                .order_by(monitor_results.c.seq)
                .limit(1)
            ).first()
        if row is None or row[0] is None or row[1] is None:
            return None
        return float(row[0]), float(row[1])

    def _dataset_window(self, monitor: Monitor, version: DatasetVersion) -> WindowResult:
        reference = self.reference(monitor)
        columns = self.columns(monitor, reference)
        config = monitor.config
        options = self._options(monitor)
        with duckdb.connect() as conn:
            ref = reference_relation(conn, self.datasets, reference.dataset)
            current = reference_relation(conn, self.datasets, version)
            times = None
            if config.seasonal and version.time_column in current.columns:
                times = current.project(f'"{version.time_column}"').df()[version.time_column]
            drift = self.baseline.drift(
                monitor,
                reference.dataset,
                ref,
                current,
                columns=columns,
                options=options,
                rows=version.row_count,
                window_times=times,
            )
            both = set(version.columns) & set(reference.dataset.columns)
            if config.prediction and config.prediction in both:
                column = check_drift(
                    ref.project(f'"{config.prediction}"'),
                    current.project(f'"{config.prediction}"'),
                    columns=[config.prediction],
                    options=self._single_column_options(monitor, config.prediction),
                ).columns[0]
                drift = replace(
                    drift, columns=[*drift.columns, replace(column, is_prediction=True)]
                )
            if config.target and config.target in both:
                target = current.project(f'"{config.target}"').df()[config.target]
                drift = self._with_label_drift(
                    monitor, reference, ref, drift, target, task=config.task, times=times
                )
            quality = None
            if config.target and config.prediction:
                wanted = [config.target, config.prediction]
                if set(wanted) <= set(version.columns):
                    frame = current.project(
                        f'"{config.prediction}" AS prediction, "{config.target}" AS label'
                    ).df()
                    quality = performance(
                        frame, task=config.task, min_class_rows=config.min_class_rows
                    )
        return WindowResult(
            label=version.uri,
            start=None,
            end=None,
            rows=version.row_count,
            drift=drift,
            performance=quality,
        )
