"""`MonitorService`: declare monitors, run them window by window, keep every result.

A run computes the complete windows after the monitor's cursor; each window's result, the
cursor move and the alert changes commit in one transaction, so a crash repeats nothing and
loses nothing, and two runners racing on one monitor record each window once.
"""

from __future__ import annotations

import builtins
import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from loopml.data import DatasetService
from loopml.deployments import DeploymentService
from loopml.errors import ConflictError, NotFoundError
from loopml.governance.audit import append_event
from loopml.governance.identity import require
from loopml.monitoring.alerts import AlertChanges, AlertRule, AlertService, parse_rule
from loopml.monitoring.definition import Monitor, MonitorConfig, Source, Window, parse_duration
from loopml.monitoring.evaluate import WindowEvaluator
from loopml.monitoring.report import render_report
from loopml.monitoring.results import WindowResult
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


@dataclass(frozen=True)
class StoredResult:
    """One window's result as recorded."""

    id: str
    monitor: str
    seq: int
    window: WindowResult
    status: str
    created_at: float

    @property
    def uri(self) -> str:
        return f"monitor:{self.monitor}#{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "monitor": self.monitor,
            "seq": self.seq,
            "status": self.status,
            "created_at": self.created_at,
            **self.window.to_dict(),
        }


@dataclass(frozen=True)
class MonitorRun:
    """What one window of a run produced."""

    result: StoredResult
    alerts: AlertChanges


class MonitorService:
    """Monitors over deployments' prediction logs or over successive dataset versions."""

    def __init__(
        self,
        stores: Stores,
        datasets: DatasetService,
        tracking: TrackingService,
        registry: RegistryService,
        deployments: DeploymentService,
    ) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.datasets = datasets
        self.deployments = deployments
        self.alerts = AlertService(stores)
        self.evaluator = WindowEvaluator(stores, datasets, tracking, registry, deployments)

    # ------------------------------------------------------------------ declare
    def create(
        self,
        name: str,
        source: str | Source,
        *,
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
    ) -> Monitor:
        """Declare a monitor; checked now (source, reference, options), run later."""
        actor = self.stores.actor
        require(actor, "write", "create monitors")
        check_name("monitor", name)
        parsed = Source.parse(source)
        parsed_rules = [parse_rule(rule) for rule in rules]
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
        )
        self.alerts.check_sinks(config.sinks)
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
                    select(monitors.c.name).where(monitors.c.name == name)
                ).first()
                if existing is not None:
                    if not replace:
                        raise _exists(name)
                    values = {k: v for k, v in row.items() if k not in ("cursor", "created_at")}
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
        if not done:
            self._touch(monitor, now)
        return done

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
        self, monitor: Monitor, cursor: float, window: WindowResult, now: float
    ) -> MonitorRun | None:
        status = _status(window)
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
                        summary=_json_safe(window.to_dict()),
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

    def _claim(self, conn: Connection, monitor: Monitor, cursor: float, now: float) -> bool:
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
        return Page([_stored(row) for row in rows], token)

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
        return _stored(row)

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
        before = [_stored(row).window for row in reversed(rows)]
        alerts = [a.to_dict() for a in self.alerts.list(monitor=name, state="open")]
        return render_report(
            chosen.window,
            monitor=name,
            source=str(monitor.source),
            reference=monitor.reference or self.evaluator.reference_uri(monitor),
            history=before,
            alerts=alerts,
        )


def _stored(row: Any) -> StoredResult:
    return StoredResult(
        id=row.id,
        monitor=row.monitor,
        seq=row.seq,
        window=WindowResult.from_dict(row.summary),
        status=row.status,
        created_at=row.created_at,
    )


def _status(window: WindowResult) -> str:
    if window.rows == 0:
        return "empty"
    if window.drift is None:
        return "no_drift_check"
    return window.drift.status


def _next_run(monitor: Monitor, now: float) -> float | None:
    step = monitor.config.schedule_s
    return None if not step else now + step


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None: JSON columns must hold valid JSON on every backend."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _missing(name: str) -> NotFoundError:
    return NotFoundError(f"no monitor named {name!r}; see `loopml monitor list`")


def _exists(name: str) -> ConflictError:
    return ConflictError(
        f"monitor {name!r} already exists; choose another name or pass replace=True "
        "(--replace) to redefine it"
    )
