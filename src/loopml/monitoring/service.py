"""`MonitorService`: declare monitors, run them window by window, keep every result.

A run computes the complete windows after the monitor's cursor; each window's result, the
cursor move and the alert changes commit in one transaction, so a crash repeats nothing and
loses nothing, and two runners racing on one monitor record each window once.
"""

from __future__ import annotations

import builtins
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from loopml.data import DatasetService
from loopml.deployments import DeploymentService
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.features import FeatureStore
from loopml.governance.audit import append_event
from loopml.governance.identity import require
from loopml.monitoring.alerts import AlertRule, AlertService, parse_rule
from loopml.monitoring.definition import Monitor, MonitorConfig, Source, Window, parse_duration
from loopml.monitoring.evaluate import WindowEvaluator
from loopml.monitoring.records import MonitorRun, StoredResult, json_safe, result_status, stored
from loopml.monitoring.report import render_report
from loopml.monitoring.results import WindowResult
from loopml.monitoring.view_windows import freshness_rules
from loopml.registry import RegistryService
from loopml.store import Stores
from loopml.store.ids import new_id
from loopml.store.paging import Keyset, Page, SortKey
from loopml.store.schema import monitor_results, monitors
from loopml.tracking import TrackingService
from loopml.uris import parse_dataset_ref
from loopml.validation import check_name

_OLDEST_RESULTS = Keyset("monitor results", [SortKey(monitor_results.c.seq)])
_NEWEST_RESULTS = Keyset(
    "monitor results, newest first", [SortKey(monitor_results.c.seq, descending=True)]
)


class MonitorService:
    """Monitors over deployments' prediction logs, successive dataset versions, or feature
    views (their rows and the freshness of their online values)."""

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
        self.engine = stores.engine
        self.datasets = datasets
        self.deployments = deployments
        self.alerts = AlertService(stores)
        self.evaluator = WindowEvaluator(
            stores, datasets, tracking, registry, deployments, features
        )

    # ------------------------------------------------------------------ declare
    def create(
        self,
        name: str,
        source: str | Source | None = None,
        *,
        feature_view: str | None = None,
        reference: str | None = None,
        columns: builtins.list[str] | None = None,
        window: str | int | Window = "1000 rows",
        schedule: str | float | None = None,
        label_delay: str | float | None = None,
        tests: dict[str, str] | None = None,
        thresholds: dict[str, float] | None = None,
        drift_share: float = 0.5,
        task: str | None = None,
        target: str | None = None,
        prediction: str | None = None,
        rules: builtins.list[str | dict[str, Any] | AlertRule] = (),  # type: ignore[assignment]
        sinks: builtins.list[str] = (),  # type: ignore[assignment]
        replace: bool = False,
        calibrate: str = "reference",
        false_alarm_rate: float = 0.05,
        seasonal: str | None = None,
        resolve_after: int = 2,
        min_class_rows: int = 30,
        time_basis: str = "arrival",
        max_lag: str | float | None = None,
        max_age: str | float | None = None,
        max_behind: str | float | None = None,
        estimate: bool = False,
        estimate_reference: str | None = None,
    ) -> Monitor:
        """Declare a monitor; checked now (source, reference, options), run later.

        `time_basis="event"` cuts a deployment's windows on the event time its clients sent
        (the arrival time where they sent none), so replayed or backfilled traffic lands in
        the windows of the period it describes. `feature_view=VIEW` (or source
        `feature_view:VIEW`) watches a feature view: drift of its rows by windows of event
        time, and, with `max_lag` / `max_age` / `max_behind` (durations), alerts when its
        online values grow stale.

        `estimate=True` adds performance estimated from the predictions alone (CBPE for
        classifiers, DLE for regressors) to each window of a deployment, fitted on
        `estimate_reference` (a labelled dataset the model did not train on; default the
        monitor's reference), so `estimated_metric_below` / `estimated_metric_above` rules
        can alert before labels arrive.
        """
        actor = self.stores.actor
        require(actor, "write", "create monitors")
        check_name("monitor", name)
        parsed = _source(source, feature_view)
        parsed_rules = [parse_rule(rule) for rule in rules]
        parsed_rules += freshness_rules(max_lag, max_age, max_behind)
        if parsed.feature_view is None and any(r.kind == "freshness_above" for r in parsed_rules):
            raise ValidationError(
                "freshness rules (max_lag, max_age, max_behind, freshness_above) watch a "
                "feature view's online values: declare the monitor on feature_view:NAME"
            )
        config = MonitorConfig(
            window=Window.parse(window),
            columns=list(columns) if columns is not None else None,
            schedule_s=None if schedule is None else parse_duration(schedule, "schedule"),
            label_delay_s=0.0
            if label_delay is None
            else parse_duration(label_delay, "label delay"),
            tests=dict(tests or {}),
            thresholds={k: float(v) for k, v in (thresholds or {}).items()},
            drift_share=drift_share,
            task=task,
            target=target,
            prediction=prediction,
            rules=[rule.to_dict() for rule in parsed_rules],
            sinks=list(sinks),
            calibrate=calibrate,
            false_alarm_rate=false_alarm_rate,
            seasonal=seasonal,
            resolve_after=resolve_after,
            min_class_rows=min_class_rows,
            time_basis=time_basis,
            estimate=estimate,
            estimate_reference=None
            if estimate_reference is None
            else self.datasets.get(str(parse_dataset_ref(estimate_reference))).uri,
        )
        if not estimate and any(r.kind.startswith("estimated_") for r in parsed_rules):
            raise ValidationError(
                "estimated_metric_below / estimated_metric_above need estimates: create the "
                "monitor with estimate=True (--estimate)"
            )
        self.alerts.check_sinks(config.sinks)
        if parsed.feature_view is not None:
            ref, config = self.evaluator.views.prepare(parsed, reference, config)
        else:
            ref = self._check_source(parsed, reference, config)
        now = time.time()
        monitor = Monitor(
            name=name,
            source=parsed,
            reference=ref,
            config=config,
            cursor=None,
            next_run_at=now if config.schedule_s else None,
            created_by=actor.name,
            created_at=now,
            updated_at=now,
        )
        self.evaluator.check_options(monitor)
        row = {
            "name": name,
            "source": parsed.to_dict(),
            "reference": ref,
            "config": config.to_dict(),
            "cursor": None,
            "next_run_at": monitor.next_run_at,
            "created_by": actor.name,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                existing = conn.execute(
                    select(monitors.c.name, monitors.c.config).where(monitors.c.name == name)
                ).first()
                if existing is not None:
                    if not replace:
                        raise _exists(name)
                    # A cursor is a time on the old basis: on a new one, start over.
                    kept: tuple[str, ...] = ("created_at",)
                    if (existing.config or {}).get("time_basis", "arrival") == time_basis:
                        kept = ("cursor", "created_at")
                    values = {k: v for k, v in row.items() if k not in kept}
                    conn.execute(update(monitors).where(monitors.c.name == name).values(values))
                else:
                    conn.execute(monitors.insert().values(**row))
                append_event(
                    conn,
                    actor,
                    "monitor.update" if existing is not None else "monitor.create",
                    monitor.uri,
                    {"source": str(parsed), "reference": ref, "config": config.to_dict()},
                )
        except IntegrityError as exc:
            raise _exists(name) from exc
        return self.get(name)

    def _check_source(
        self, source: Source, reference: str | None, config: MonitorConfig
    ) -> str | None:
        if source.deployment is not None:
            self.deployments.get(source.deployment)  # NotFoundError names it
        else:
            if not self.datasets.list(source.dataset, max_results=1):
                raise NotFoundError(
                    f"dataset {source.dataset!r} has no versions yet: log one first "
                    "(`loopml data add`)"
                )
        if reference is None:
            return None
        return self.datasets.get(str(parse_dataset_ref(reference))).uri

    def get(self, name: str) -> Monitor:
        with self.engine.connect() as conn:
            row = conn.execute(select(monitors).where(monitors.c.name == name)).first()
        if row is None:
            raise _missing(name)
        return Monitor.from_row(row)

    def list(self) -> builtins.list[Monitor]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(monitors).order_by(monitors.c.name)).all()
        return [Monitor.from_row(row) for row in rows]

    def reference_of(self, name: str) -> str | None:
        """The reference data monitor `name` compares with: its own, or the one its source
        implies (a deployment's model's training data)."""
        return self.evaluator.reference_uri(self.get(name))

    # ------------------------------------------------------------------ run
    def run(
        self, name: str, *, now: float | None = None, partial: bool = False, limit: int = 100
    ) -> builtins.list[MonitorRun]:
        """Compute and record every complete window after the cursor (oldest first)."""
        require(self.stores.actor, "write", "run monitors")
        monitor = self.get(name)
        now = time.time() if now is None else now
        done: builtins.list[MonitorRun] = []
        for planned in self.evaluator.windows(monitor, now, partial=partial, limit=limit):
            result = self.evaluator.evaluate(monitor, planned)
            stored = self._record(monitor, planned.cursor, result, now)
            if stored is None:  # another runner recorded this window first
                break
            done.append(stored)
            monitor = self.get(name)
        if monitor.source.feature_view is not None:
            checked = self._check_freshness(monitor, now)
            if checked is not None:
                done.append(checked)
        if not done:
            self._touch(monitor, now)
        return done

    def _check_freshness(self, monitor: Monitor, now: float) -> MonitorRun | None:
        """A feature-view monitor's freshness check: one result per run, cursor unmoved."""
        freshness = self.evaluator.views.freshness(monitor, now)
        if freshness is None:
            return None
        label = f"freshness at {datetime.fromtimestamp(now, UTC):%Y-%m-%d %H:%M:%S} UTC"
        window = WindowResult(label, None, None, 0, None, freshness=freshness)
        return self._record(monitor, monitor.cursor, window, now)

    def run_due(self, now: float | None = None) -> dict[str, builtins.list[MonitorRun]]:
        """Run every scheduled monitor whose time has come (what the controller calls)."""
        now = time.time() if now is None else now
        due = [
            m
            for m in self.list()
            if m.config.schedule_s and (m.next_run_at is None or m.next_run_at <= now)
        ]
        return {monitor.name: self.run(monitor.name, now=now) for monitor in due}

    def _record(
        self, monitor: Monitor, cursor: float | None, window: WindowResult, now: float
    ) -> MonitorRun | None:
        status = result_status(window)
        drift = window.drift
        result_id = new_id("mres")
        rules = [AlertRule.from_dict(rule) for rule in monitor.config.rules]
        try:
            with self.engine.begin() as conn:
                if not self._claim(conn, monitor, cursor, now):
                    return None
                seq = 1 + int(
                    conn.execute(
                        select(func.coalesce(func.max(monitor_results.c.seq), 0)).where(
                            monitor_results.c.monitor == monitor.name
                        )
                    ).scalar_one()
                )
                conn.execute(
                    monitor_results.insert().values(
                        id=result_id,
                        monitor=monitor.name,
                        seq=seq,
                        window_start=window.start,
                        window_end=window.end,
                        label=window.label[:250],
                        status=status,
                        dataset_drift=None if drift is None else drift.dataset_drift,
                        drift_share=None if drift is None else drift.share,
                        rows=window.rows,
                        summary=json_safe(window.to_dict()),
                        created_by=self.stores.actor.name,
                        created_at=now,
                    )
                )
                append_event(
                    conn,
                    self.stores.actor,
                    "monitor.result",
                    f"{monitor.uri}#{seq}",
                    {
                        "window": window.label,
                        "status": status,
                        "dataset_drift": None if drift is None else drift.dataset_drift,
                        "rows": window.rows,
                    },
                )
                changes = self.alerts.apply_in(
                    conn,
                    monitor.name,
                    result_id,
                    rules,
                    window,
                    resolve_after=monitor.config.resolve_after,
                )
        except IntegrityError:  # a concurrent runner took the same sequence number
            return None
        self.alerts.notify(monitor.name, result_id, changes, monitor.config.sinks or None)
        stored = StoredResult(result_id, monitor.name, seq, window, status, now)
        return MonitorRun(stored, changes)

    def _claim(self, conn: Connection, monitor: Monitor, cursor: float | None, now: float) -> bool:
        """Move the cursor iff nobody moved it since this run read it (compare-and-set)."""
        condition = (
            monitors.c.cursor.is_(None)
            if monitor.cursor is None
            else monitors.c.cursor == monitor.cursor
        )
        moved = conn.execute(
            update(monitors)
            .where(monitors.c.name == monitor.name, condition)
            .values(cursor=cursor, next_run_at=_next_run(monitor, now), updated_at=now)
        )
        return moved.rowcount == 1

    def _touch(self, monitor: Monitor, now: float) -> None:
        if not monitor.config.schedule_s:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(monitors)
                .where(monitors.c.name == monitor.name)
                .values(next_run_at=_next_run(monitor, now))
            )

    # ------------------------------------------------------------------ read
    def results(
        self,
        name: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        newest_first: bool = False,
    ) -> Page[StoredResult]:
        """A monitor's results by number, oldest first (or newest first), a page at a time."""
        self.get(name)
        keys = _NEWEST_RESULTS if newest_first else _OLDEST_RESULTS
        with self.engine.connect() as conn:
            rows, token = keys.page(
                conn,
                select(monitor_results).where(monitor_results.c.monitor == name),
                max_results=max_results,
                page_token=page_token,
                scope={"monitor": name},
            )
        return Page([stored(row) for row in rows], token)

    def result(self, name: str, seq: int | None = None) -> StoredResult:
        """Result number `seq` of a monitor (the latest when None)."""
        query = select(monitor_results).where(monitor_results.c.monitor == name)
        query = query.where(monitor_results.c.seq == seq) if seq is not None else query
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(monitor_results.c.seq.desc()).limit(1)).first()
        if row is None:
            self.get(name)
            which = f"no result #{seq}" if seq is not None else "no result yet"
            raise NotFoundError(
                f"monitor {name!r} has {which}: run it with `loopml monitor run {name}`"
            )
        return stored(row)

    def report(self, name: str, seq: int | None = None, *, history: int = 30) -> str:
        """A self-contained HTML report of one result, with the trend of the ones before."""
        monitor = self.get(name)
        chosen = self.result(name, seq)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(monitor_results)
                .where(
                    monitor_results.c.monitor == name,
                    monitor_results.c.seq < chosen.seq,
                )
                .order_by(monitor_results.c.seq.desc())
                .limit(history)
            ).all()
        before = [stored(row).window for row in reversed(rows)]
        alerts = [a.to_dict() for a in self.alerts.list(monitor=name, state="open")]
        return render_report(
            chosen.window,
            monitor=name,
            source=str(monitor.source),
            reference=monitor.reference or self.evaluator.reference_uri(monitor),
            history=before,
            alerts=alerts,
        )


def _source(source: str | Source | None, feature_view: str | None) -> Source:
    """The monitor's source from the positional form and/or the `feature_view` shortcut."""
    if feature_view is None:
        if source is None:
            raise ValidationError(
                "a monitor needs a source: deployment:NAME, dataset:NAME or feature_view:NAME "
                "(or feature_view=NAME)"
            )
        return Source.parse(source)
    chosen = Source(feature_view=feature_view)
    if source is not None and Source.parse(source) != chosen:
        raise ValidationError(
            f"give either a source ({source}) or feature_view={feature_view!r}, not both"
        )
    return chosen


def _next_run(monitor: Monitor, now: float) -> float | None:
    step = monitor.config.schedule_s
    return None if not step else now + step


def _missing(name: str) -> NotFoundError:
    return NotFoundError(f"no monitor named {name!r}; see `loopml monitor list`")


def _exists(name: str) -> ConflictError:
    return ConflictError(
        f"monitor {name!r} already exists; choose another name or pass replace=True "
        "(--replace) to redefine it"
    )
