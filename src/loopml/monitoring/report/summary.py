"""The report's top sections: the verdict at a glance, open alerts, performance and latency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loopml.htmlkit import MISSING, esc, number, percent, utc_time
from loopml.monitoring.report.verdicts import dataset_verdict, status_text
from loopml.monitoring.results import (
    DriftResult,
    LatencyResult,
    PerformanceResult,
    WindowResult,
)


def summary_section(result: WindowResult) -> str:
    """Cards for the verdict, drifted columns, share rule and rows; then any status message."""
    drift = result.drift
    css, headline = dataset_verdict(drift)
    cards = [_card("Dataset drift", headline, css, _verdict_detail(drift))]
    if drift is not None:
        tested, drifted = len(drift.tested), len(drift.drifted)
        untested = sum(1 for c in drift.columns if c.drift is None)
        cards.append(
            _card(
                "Drifted columns",
                f"{drifted} of {tested} tested",
                "drift" if drifted else "plain",
                f"{untested} not tested" if untested else f"{len(drift.columns)} columns",
            )
        )
        cards.append(
            _card(
                "Share drifted",
                percent(drift.share),
                css,
                f"dataset drift at ≥ {percent(drift.drift_share, 0)}",
            )
        )
        cards.append(
            _card(
                "Rows",
                f"{number(drift.current_rows)} current",
                "plain",
                f"{number(drift.reference_rows)} reference",
            )
        )
    else:
        cards.append(_card("Rows", f"{number(result.rows)} current", "plain", "window"))
    notes = []
    if drift is not None and drift.message:
        notes.append(f'<p class="notice {css}">{esc(drift.message)}</p>')
    elif drift is None:
        notes.append('<p class="notice untested">No drift result for this window.</p>')
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<div class="cards">{"".join(cards)}</div>{"".join(notes)}</section>'
    )


def _verdict_detail(drift: DriftResult | None) -> str:
    if drift is None:
        return "no drift result"
    if drift.dataset_drift is None:
        return status_text(drift.status)
    rule = "share rule met" if drift.dataset_drift else "share rule not met"
    return (
        f"{rule}; some columns not tested" if any(c.drift is None for c in drift.columns) else rule
    )


def _card(label: str, value: str, css: str, detail: str) -> str:
    return (
        f'<div class="card {css}"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div><div class="detail">{esc(detail)}</div></div>'
    )


ALERT_FIELDS = (
    ("severity", "Severity"),
    ("rule", "Rule"),
    ("subject", "Subject"),
    ("message", "Message"),
    ("value", "Value"),
    ("threshold", "Threshold"),
    ("occurrences", "Seen"),
    ("opened_at", "Opened"),
)


def alerts_section(alerts: Sequence[dict[str, Any]]) -> str:
    """Open alerts as a table; nothing at all when there are none."""
    if not alerts:
        return ""
    head = "".join(f"<th>{label}</th>" for _, label in ALERT_FIELDS)
    rows = []
    for alert in alerts:
        cells = []
        for key, _ in ALERT_FIELDS:
            value = alert.get(key)
            if key == "opened_at" and isinstance(value, int | float):
                text = utc_time(float(value))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                text = number(value)
            else:
                text = MISSING if value is None else str(value)
            css = f' class="sev-{esc(text)}"' if key == "severity" else ""
            cells.append(f"<td{css}>{esc(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<section id="alerts"><h2>Open alerts ({len(alerts)})</h2>'
        f'<div class="table-wrap"><table><tr>{head}</tr>{"".join(rows)}</table></div></section>'
    )


def performance_section(performance: PerformanceResult | None) -> str:
    """Metrics with how many predictions had labels; says plainly when none had."""
    body: str
    if performance is None:
        body = '<p class="muted">Performance is not monitored for this window.</p>'
    elif performance.status != "ok" or not performance.metrics:
        reason = status_text(performance.status)
        message = f" {esc(performance.message)}" if performance.message else ""
        body = (
            f'<p class="notice untested">Not computed: {esc(reason)}. '
            f"{number(performance.labelled_rows)} of {number(performance.rows)} "
            f"predictions labelled.{message}</p>"
        )
    else:
        coverage = performance.labelled_rows / performance.rows if performance.rows else None
        head = "".join(f"<th>{esc(name)}</th>" for name in performance.metrics)
        cells = "".join(f"<td>{number(v)}</td>" for v in performance.metrics.values())
        task = esc(performance.task or "unknown task")
        message = f'<p class="muted">{esc(performance.message)}</p>' if performance.message else ""
        body = (
            f"<p>{task}: {number(performance.labelled_rows)} of {number(performance.rows)} "
            f"predictions labelled ({percent(coverage)}).</p>"
            f'<div class="table-wrap"><table><tr>{head}</tr><tr>{cells}</tr></table></div>'
            f"{message}"
        )
    return f'<section id="performance"><h2>Performance</h2>{body}</section>'


def latency_section(latency: Sequence[LatencyResult]) -> str:
    """Requests, errors and percentiles per model version; the all-models row first."""
    if not latency:
        body = '<p class="muted">No latency recorded for this window.</p>'
    else:
        head = "".join(
            f"<th>{h}</th>"
            for h in ("Model", "Requests", "Errors", "Error rate", "p50 ms", "p95 ms", "p99 ms")
        )
        rows = []
        for item in latency:
            model = esc(item.model) if item.model is not None else "<em>all models</em>"
            rate = item.error_rate
            rate_css = ' class="bad"' if rate else ""
            rows.append(
                f"<tr><td>{model}</td><td>{number(item.requests)}</td>"
                f"<td>{number(item.errors)}</td><td{rate_css}>{percent(rate, 2)}</td>"
                f"<td>{number(item.p50_ms)}</td><td>{number(item.p95_ms)}</td>"
                f"<td>{number(item.p99_ms)}</td></tr>"
            )
        body = f'<div class="table-wrap"><table><tr>{head}</tr>{"".join(rows)}</table></div>'
    return f'<section id="latency"><h2>Latency</h2>{body}</section>'
