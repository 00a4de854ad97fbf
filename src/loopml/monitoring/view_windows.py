"""Feature-view monitors: windows of a view's rows by event time, compared with reference
rows, and the freshness of the view's online values.

The rows are the view's features as training sets and the online store get them (the
view's expressions applied to its source). The reference is fixed when the monitor is
declared: a dataset version read through the view (by default the source's version then),
or, for Parquet sources, the rows dated before the newest event time then. Windows start
after the reference and are complete once the source holds a row at or past their end, so
each new version of the source that adds data yields new windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import duckdb

from loopml.data import DatasetVersion
from loopml.errors import ValidationError
from loopml.features import FeatureStore, ViewRows
from loopml.features.rows import EPOCH, EVENT_TIME
from loopml.monitoring.alerts import AlertRule
from loopml.monitoring.baseline import Baseline
from loopml.monitoring.definition import Monitor, MonitorConfig, Source
from loopml.monitoring.drift.check import DriftOptions
from loopml.monitoring.results import FreshnessResult, WindowResult
from loopml.monitoring.windows.plan import Span, plan_windows, span_label
from loopml.uris import parse_dataset_ref

MEASURED = ("float64", "int64", "string", "bool")  # timestamp features are not drift-tested


@dataclass(frozen=True)
class ViewReference:
    """A view monitor's reference rows: a dataset version read through the view, or the
    source's rows dated before `end`."""

    id: str  # changes whenever the rows may (the calibration cache key)
    uri: str
    dataset: DatasetVersion | None
    end: float  # windows start here (epoch seconds)
    time_column: str | None = EVENT_TIME


class ViewMonitors:
    """Declare, window and evaluate monitors whose source is a feature view."""

    def __init__(self, features: FeatureStore, baseline: Baseline) -> None:
        self.features = features
        self.baseline = baseline

    # ------------------------------------------------------------------ declare
    def prepare(
        self, source: Source, reference: str | None, config: MonitorConfig
    ) -> tuple[str | None, MonitorConfig]:
        """Check the view, columns and rules; fix the reference. Returns the reference's
        dataset URI (None for a Parquet source's own rows) and the config with its end."""
        name = source.feature_view or ""
        rows = self.features.rows(name)  # NotFoundError for an unknown view
        view = rows.view
        if config.columns is not None:
            unknown = [c for c in config.columns if c not in view.feature_names]
            if unknown:
                raise ValidationError(
                    f"columns {unknown} are not features of view {name!r}; it has "
                    f"{view.feature_names}"
                )
        fresh = [r for r in config.rules if r.get("kind") == "freshness_above"]
        if fresh and not view.online:
            raise ValidationError(
                f"feature view {name!r} is offline only (online=False): nothing is materialized "
                "whose freshness could be watched; drop the freshness rules"
            )
        for rule in config.rules:
            if rule.get("kind") in (
                "metric_below",
                "metric_above",
                "estimated_metric_below",
                "estimated_metric_above",
                "latency_above",
            ):
                raise ValidationError(
                    f"alert rule {rule.get('name')!r} needs predictions; a feature-view monitor "
                    "has drift (dataset_drift, column_drift) and freshness_above rules"
                )
        if config.target or config.prediction:
            raise ValidationError("target and prediction are for dataset monitors, not views")
        if reference is not None:
            version = self.features.datasets.get(str(parse_dataset_ref(reference)))
            ref_rows = self.features.rows(name, dataset=version)
            uri: str | None = version.uri
        elif rows.source.dataset is not None:  # the source's version now
            ref_rows, uri = rows, rows.source.dataset.uri
        else:
            ref_rows, uri = rows, None
        with duckdb.connect() as conn:
            newest = ref_rows.newest(conn)
        if newest is None:
            raise ValidationError(
                f"the reference of feature view {name!r} ({ref_rows.source.uri}) has no rows: "
                "log data first, or pass --reference dataset:NAME@VERSION"
            )
        checked = replace(config, reference_end=math.nextafter(newest, math.inf))
        self.columns(checked, view.name)
        return uri, checked

    # ------------------------------------------------------------------ reference
    def reference(self, monitor: Monitor) -> ViewReference:
        end = monitor.config.reference_end
        if end is None:
            raise ValidationError(f"monitor {monitor.name!r} has no reference end; recreate it")
        name = monitor.source.feature_view or ""
        if monitor.reference is not None:
            version = self.features.datasets.get(monitor.reference)
            return ViewReference(f"{name}:{version.id}", version.uri, version, end)
        rows = self.features.rows(name)
        label = (
            f"feature_view:{name} up to {datetime.fromtimestamp(end, UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
        return ViewReference(f"{name}:{rows.source.key}:{end!r}", label, None, end)

    def columns(self, config: MonitorConfig, view_name: str) -> list[str]:
        view = self.features.registry.view(view_name)
        if config.columns is not None:
            gone = [c for c in config.columns if c not in view.feature_names]
            if gone:
                raise ValidationError(
                    f"feature view {view_name!r} has no features {gone} any more (it has "
                    f"{view.feature_names}): redefine the monitor with --replace"
                )
            return list(config.columns)
        found = [f.name for f in view.features if f.dtype in MEASURED]
        if not found:
            raise ValidationError(
                f"feature view {view_name!r} has only timestamp features; nothing to drift-test"
            )
        return found

    # ------------------------------------------------------------------ windows
    def windows(self, monitor: Monitor, *, partial: bool, limit: int) -> list[Span]:
        """Complete windows of event time after the cursor (or the reference's end)."""
        reference = self.reference(monitor)
        rows = self.features.rows(monitor.source.feature_view or "")
        after = monitor.cursor if monitor.cursor is not None else reference.end
        try:
            return self._plan(monitor, rows, after, partial=partial, limit=limit)
        except duckdb.Error as exc:
            raise ValidationError(
                f"monitor {monitor.name!r} cannot read feature view {rows.view.name!r} "
                f"({rows.source.uri}): {exc}"
            ) from exc

    def _plan(
        self, monitor: Monitor, rows: ViewRows, after: float, *, partial: bool, limit: int
    ) -> list[Span]:
        with duckdb.connect() as conn:
            # The window planner reads a `predictions` relation of (time, shadow): here the
            # view's event times, none of them shadow traffic.
            conn.execute(
                f"CREATE TEMP TABLE predictions AS SELECT {EPOCH} AS time, false AS shadow "
                f"FROM ({rows.relation_sql(conn)}) WHERE {EPOCH} >= {after!r}"
            )
            newest = conn.execute("SELECT max(time) FROM predictions").fetchone()
            if newest is None or newest[0] is None:
                return []
            until = math.nextafter(float(newest[0]), math.inf)
            return plan_windows(
                conn, monitor.config.window, after, until, partial=partial, limit=limit
            )

    def evaluate(self, monitor: Monitor, span: Span, options: DriftOptions) -> WindowResult:
        reference = self.reference(monitor)
        name = monitor.source.feature_view or ""
        rows = self.features.rows(name)
        ref_rows = (
            rows
            if reference.dataset is None
            else self.features.rows(name, dataset=reference.dataset)
        )
        columns = self.columns(monitor.config, rows.view.name)
        try:
            return self._evaluate(monitor, span, options, reference, rows, ref_rows, columns)
        except duckdb.Error as exc:  # e.g. a feature expression that fails on new rows
            raise ValidationError(
                f"monitor {monitor.name!r} cannot read feature view {name!r} "
                f"({rows.source.uri}): {exc}"
            ) from exc

    def _evaluate(
        self,
        monitor: Monitor,
        span: Span,
        options: DriftOptions,
        reference: ViewReference,
        rows: ViewRows,
        ref_rows: ViewRows,
        columns: list[str],
    ) -> WindowResult:
        picked = ", ".join([*columns, EVENT_TIME])
        with duckdb.connect() as conn:
            ref = conn.sql(
                f"SELECT {picked} FROM ({ref_rows.relation_sql(conn)}) "
                f"WHERE {EPOCH} < {reference.end!r}"
            )
            current = conn.sql(
                f"SELECT {picked} FROM ({rows.relation_sql(conn)}) "
                f"WHERE {EPOCH} >= {span.start!r} AND {EPOCH} < {span.end!r}"
            )
            times = None
            if monitor.config.seasonal:
                times = current.project(EVENT_TIME).df()[EVENT_TIME]
            drift = self.baseline.drift(
                monitor,
                reference,
                ref,
                current,
                columns=columns,
                options=options,
                rows=span.rows,
                window_times=times,
            )
        return WindowResult(
            label=span_label(span), start=span.start, end=span.end, rows=span.rows, drift=drift
        )

    # ------------------------------------------------------------------ freshness
    def freshness(self, monitor: Monitor, now: float) -> FreshnessResult | None:
        """The view's online freshness now; None for an offline-only view."""
        name = monitor.source.feature_view or ""
        rows: ViewRows = self.features.rows(name)
        if not rows.view.online:
            return None
        found = self.features.freshness(name, now)
        with duckdb.connect() as conn:
            newest = rows.newest(conn)
        runs = self.features.runs(name, 10)
        done = next((r for r in runs if r.status == "done"), None)
        return FreshnessResult(
            view=name,
            checked_at=now,
            materialized_at=found.materialized_at,
            watermark=found.watermark,
            source_newest=newest,
            materialized_from=done.source if done else None,
            source_now=rows.source.uri,
            last_status=found.last_status,
        )


def freshness_rules(
    max_lag: str | float | None, max_age: str | float | None, max_behind: str | float | None
) -> list[AlertRule]:
    """`freshness_above` rules from the `max_lag` / `max_age` / `max_behind` shortcuts."""
    rules = []
    for measure, value in (("lag", max_lag), ("age", max_age), ("behind", max_behind)):
        if value is None:
            continue
        text = str(value).strip()
        rules.append(AlertRule.parse(f"freshness_above:{measure}:{text}"))
    return rules
