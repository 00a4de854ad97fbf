"""Metric trends across the monitor's windows, ending with the window being reported."""

from __future__ import annotations

from collections.abc import Sequence

from loopml.htmlkit import esc, number, trend_line
from loopml.monitoring.results import LatencyResult, WindowResult

MAX_WINDOWS = 200  # a trend chart stays a few KB however long the monitor has run
MAX_METRICS = 6


def windows(result: WindowResult, history: Sequence[WindowResult]) -> list[WindowResult]:
    """History then this result (once, even if the history already ends with it), newest last."""
    items = list(history)
    if items and _same(items[-1], result):
        items.pop()
    items.append(result)
    return items[-MAX_WINDOWS:]


def _same(a: WindowResult, b: WindowResult) -> bool:
    return (a.label, a.start, a.end) == (b.label, b.start, b.end)


def _all_models(window: WindowResult) -> LatencyResult | None:
    for item in window.latency:
        if item.model is None:
            return item
    return window.latency[0] if window.latency else None


def trends_section(result: WindowResult, history: Sequence[WindowResult]) -> str:
    """Drift share, quality metrics, p99 latency, error rate and rows, one small chart each."""
    items = windows(result, history)
    if len(items) < 2:
        body = '<p class="muted">Trends appear once the monitor has more than one window.</p>'
        return f'<section id="trends"><h2>Trends</h2>{body}</section>'
    labels = [w.label for w in items]
    charts: list[str] = []
    shares = [None if w.drift is None else w.drift.share for w in items]
    limit = result.drift.drift_share if result.drift is not None else None
    charts.append(
        trend_line("Share of columns drifted", labels, shares, limit=limit, as_percent=True)
    )
    for name in _metric_names(items):
        values = [None if w.performance is None else w.performance.metrics.get(name) for w in items]
        charts.append(trend_line(name, labels, values))
    latency = [_all_models(w) for w in items]
    if any(item is not None for item in latency):
        p99 = [None if item is None else item.p99_ms for item in latency]
        errors = [None if item is None else item.error_rate for item in latency]
        charts.append(trend_line("p99 latency (ms)", labels, p99))
        charts.append(trend_line("Error rate", labels, errors, as_percent=True))
    charts.append(trend_line("Rows per window", labels, [float(w.rows) for w in items]))
    note = (
        f'<p class="note">{number(len(items))} windows, from {esc(labels[0])} '
        f"to {esc(labels[-1])}.</p>"
    )
    figures = "".join(f'<figure class="plot">{chart}</figure>' for chart in charts)
    return f'<section id="trends"><h2>Trends</h2>{note}<div class="plots">{figures}</div></section>'


def _metric_names(items: Sequence[WindowResult]) -> list[str]:
    """Quality metrics in the order they first appear, at most `MAX_METRICS`."""
    names: dict[str, None] = {}
    for window in items:
        if window.performance is not None:
            names.update(dict.fromkeys(window.performance.metrics))
    return list(names)[:MAX_METRICS]
