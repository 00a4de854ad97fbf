"""Tables for `loopml monitor …`: monitors, window results, per-column drift, alerts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from loopml.cli.render import NONE, key_value_table, when
from loopml.monitoring.definition import Monitor, format_duration, human_duration
from loopml.monitoring.records import MonitorRun, StoredResult
from loopml.monitoring.results import DriftResult, FreshnessResult, WindowResult


def verdict(drift: bool | None, status: str = "ok") -> Text:
    """`drift` in red, `ok` in green, anything untested in yellow with its reason."""
    if drift is None:
        return Text(f"not tested ({status})", style="yellow")
    return Text("drift", style="bold red") if drift else Text("ok", style="green")


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return NONE
    return f"{value:.{digits}g}"


def monitor_info(monitor: Monitor, reference: str | None) -> Table:
    config = monitor.config
    rules = ", ".join(str(rule.get("name") or rule.get("kind")) for rule in config.rules)
    view = monitor.source.feature_view is not None
    if view:
        shown_reference = f"{reference or NONE} (through the view)"
        columns = ", ".join(config.columns) if config.columns else "the view's features"
        cursor = when(monitor.cursor or config.reference_end)
    else:
        shown_reference = monitor.reference or f"{reference or NONE} (training data, lineage)"
        columns = ", ".join(config.columns) if config.columns else "the model's inputs"
        cursor = (
            when(monitor.cursor)
            if monitor.source.deployment
            else (f"version {int(monitor.cursor)}" if monitor.cursor else NONE)
        )
    return key_value_table(
        None,
        [
            ("monitor", Text(monitor.name, style="bold")),
            ("source", str(monitor.source)),
            ("reference", shown_reference),
            ("columns", columns),
            ("window", str(config.window)),
            ("time basis", config.time_basis if monitor.source.deployment else NONE),
            (
                "schedule",
                f"every {format_duration(config.schedule_s)}" if config.schedule_s else "on demand",
            ),
            (
                "label delay",
                format_duration(config.label_delay_s) if config.label_delay_s else "none",
            ),
            ("tests", _pairs(config.tests) or "Evidently's default rule"),
            ("thresholds", _pairs(config.thresholds) or "defaults"),
            ("drift share", f"≥ {config.drift_share:g} of tested columns"),
            ("alert rules", rules or NONE),
            ("sinks", ", ".join(["store", *config.sinks])),
            ("processed up to", cursor),
            ("created", f"{when(monitor.created_at)} by {monitor.created_by}"),
        ],
    )


def _pairs(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in mapping.items())


def monitors_table(rows: Sequence[tuple[Monitor, StoredResult | None, int]]) -> Table:
    table = Table(title="monitors", title_justify="left")
    for column in (
        "name",
        "source",
        "window",
        "results",
        "last window",
        "dataset drift",
        "open alerts",
    ):
        table.add_column(
            column, justify="right" if column in ("results", "open alerts") else "left"
        )
    for monitor, last, open_alerts in rows:
        drift = last.window.drift if last else None
        table.add_row(
            Text(monitor.name, style="bold"),
            str(monitor.source),
            str(monitor.config.window),
            str(last.seq if last else 0),
            last.window.label if last else NONE,
            verdict(drift.dataset_drift, drift.status) if drift else Text(NONE),
            Text(str(open_alerts), style="red" if open_alerts else ""),
        )
    return table


_WINDOW_COLUMNS = ("#", "window", "rows", "dataset drift", "drifted columns", "performance")


def _window_table(*extra: str) -> Table:
    table = Table(title_justify="left")
    for column in (*_WINDOW_COLUMNS, "p99 ms", *extra):
        table.add_column(column, justify="left" if column in ("window", "performance") else "right")
    return table


def _window_cells(result: StoredResult) -> list[Any]:
    window = result.window
    drift = window.drift
    return [
        str(result.seq),
        window.label,
        f"{window.rows:,}",
        verdict(drift.dataset_drift, drift.status) if drift else Text(NONE),
        _drifted(drift) if drift else NONE,
        performance_text(window),
        _number(window.latency[0].p99_ms, 3) if window.latency else NONE,
    ]


def runs_table(runs: Sequence[MonitorRun]) -> Table:
    table = _window_table("alerts")
    for item in runs:
        changes = item.alerts
        alerts = Text()
        if changes.opened:
            alerts.append(f"{len(changes.opened)} opened ", style="red")
        if changes.resolved:
            alerts.append(f"{len(changes.resolved)} resolved", style="green")
        table.add_row(*_window_cells(item.result), alerts if alerts.plain else Text(NONE))
    return table


def results_table(results: Sequence[StoredResult]) -> Table:
    """One row per stored result: its window and verdicts, and when it was computed."""
    table = _window_table("computed")
    for result in results:
        table.add_row(*_window_cells(result), when(result.created_at, seconds=False))
    return table


def _drifted(drift: DriftResult) -> str:
    """`4/8: temp, hum, …` (features), then `+ prediction` / `+ labels` when the prediction
    or the feedback labels drifted."""
    names = [c.column for c in drift.drifted]
    text = f"{len(names)}/{len(drift.tested)}" + (f": {', '.join(names[:6])}" if names else "")
    predicted = [c.column for c in drift.columns if c.is_prediction and c.drift]
    if drift.labels is not None and drift.labels.drift:
        predicted.append("labels")
    return text + (f" + {', '.join(predicted)}" if predicted else "")


def freshness_text(fresh: FreshnessResult) -> str:
    """`behind 92.0 d, lag 5.4 y, materialized 3 min ago from dataset:bikes@2`."""
    if fresh.materialized_at is None:
        return f"{fresh.view}: never materialized" + (
            f" (last run {fresh.last_status})" if fresh.last_status else ""
        )
    parts = [
        f"{name} {human_duration(value)}"
        for name, value in (("behind", fresh.behind_s), ("lag", fresh.lag_s), ("age", fresh.age_s))
        if value is not None
    ]
    source = f" from {fresh.materialized_from}" if fresh.materialized_from else ""
    now = f" (source now {fresh.source_now})" if fresh.source_now != fresh.materialized_from else ""
    failed = f"; last run {fresh.last_status}" if fresh.last_status not in (None, "done") else ""
    return f"{fresh.view}: {', '.join(parts)}; materialized{source}{now}{failed}"


def performance_text(window: WindowResult) -> str:
    if window.freshness is not None:
        return freshness_text(window.freshness)
    perf = window.performance
    if perf is None:
        return NONE
    if perf.status != "ok":
        return f"{perf.status}" + (f" ({perf.labelled_rows} labelled)" if perf.rows else "")
    shown = ", ".join(f"{k} {_number(v)}" for k, v in perf.metrics.items() if v is not None)
    return f"{shown} ({perf.labelled_rows:,} labelled)"


def columns_table(window: WindowResult) -> Table:
    table = Table(title=f"drift, window {window.label}", title_justify="left")
    for column in (
        "column",
        "kind",
        "test",
        "statistic",
        "threshold",
        "verdict",
        "reference",
        "current",
        "nulls",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("statistic", "threshold", "reference", "current", "nulls")
            else "left",
        )
    drift = window.drift
    if drift is None:
        return table
    for item in drift.columns:
        name = Text(item.column, style="bold")
        if item.is_prediction:
            name.append(" (prediction)", style="dim")
        if item.is_label:
            name.append(" (feedback labels)", style="dim")
        table.add_row(
            name,
            item.kind or NONE,
            item.test or NONE,
            _number(item.statistic),
            _number(item.threshold),
            verdict(item.drift, item.status),
            f"{item.reference_rows:,}",
            f"{item.current_rows:,}",
            f"{item.current_nulls:,}",
        )
    return table


def latency_table(window: WindowResult) -> Table:
    table = Table(title="latency and errors", title_justify="left")
    for column in ("model", "requests", "errors", "error rate", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for item in window.latency:
        rate = item.error_rate
        table.add_row(
            item.model or "all",
            f"{item.requests:,}",
            f"{item.errors:,}",
            NONE if rate is None else f"{rate:.2%}",
            _number(item.p50_ms, 3),
            _number(item.p95_ms, 3),
            _number(item.p99_ms, 3),
        )
    return table


def alerts_table(alerts: Sequence[Any]) -> Table:
    table = Table(title="alerts", title_justify="left")
    for column in ("alert", "monitor", "rule", "state", "windows", "opened"):
        table.add_column(column, no_wrap=True, justify="right" if column == "windows" else "left")
    table.add_column("message", overflow="fold", min_width=30)
    for alert in alerts:
        severity = {"critical": "bold red", "warning": "red"}.get(alert.severity, "")
        table.add_row(
            alert.id,
            alert.monitor,
            Text(alert.rule, style=severity),
            Text(alert.state, style="red" if alert.state == "open" else "green"),
            str(alert.occurrences),
            when(alert.opened_at, seconds=False),
            alert.message,
        )
    return table
