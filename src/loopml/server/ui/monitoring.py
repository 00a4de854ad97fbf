"""Monitoring: the monitors, and one monitor's windows — drift per column as a heat map
and a chart per column, quality (realized and estimated) and latency over windows — with
its alerts, which editors acknowledge or resolve (the alert service decides who may; the
page only hides the buttons from those it would refuse)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import ValidationError
from loopml.governance.identity import PERMISSIONS
from loopml.monitoring.alerts.service import Alert
from loopml.monitoring.records import StoredResult
from loopml.server.ui.charts import over
from loopml.server.ui.context import PageContext, serve, serve_form
from loopml.server.ui.heatmap import LEVELS, heat_rows, severity
from loopml.store.principal import Principal

WINDOWS = 30  # a page of the heat map: about a month of daily windows
MAX_COLUMN_CHARTS = 24  # the most drifted columns are charted; the heat map shows them all
ALERTS_SHOWN = 100
MAX_TEXT = 2000


def may_act(me: Principal) -> str | None:
    """Why `me` may not acknowledge or resolve alerts (None when the buttons are shown)."""
    needed = PERMISSIONS["write"]
    if not me.at_least(needed):
        return f"acknowledging and resolving alerts needs the {needed} role; you are {me.role}"
    return None


def alert_state(alert: Alert) -> str:
    if alert.state == "open" and alert.acknowledged_by:
        return "acknowledged"
    return alert.state


def monitors_view(ctx: PageContext) -> Response:
    monitors = ctx.client.monitors
    listed = monitors.list()
    open_alerts = Counter(a.monitor for a in monitors.alerts.list(state="open", max_results=1000))
    return ctx.render("monitors.html", monitors=[(m, open_alerts[m.name]) for m in listed])


def _column_charts(results: list[StoredResult], x: list[float]) -> list[dict[str, Any]]:
    """Statistic and threshold of each column over the windows, most drifted first."""
    stats: dict[str, dict[int, Any]] = {}
    worst: dict[str, float] = {}
    for result in results:
        drift = result.window.drift
        for column in drift.columns if drift is not None else []:
            stats.setdefault(column.column, {})[result.seq] = column
            found = severity(column)
            if found is not None:
                worst[column.column] = max(worst.get(column.column, 0.0), found)
    chosen = sorted(stats, key=lambda n: -worst.get(n, -1.0))[:MAX_COLUMN_CHARTS]
    charts = []
    for name in chosen:
        by_seq = stats[name]
        tests = sorted({c.test for c in by_seq.values() if c.test})
        lines = {
            "statistic": [getattr(by_seq.get(int(s)), "statistic", None) for s in x],
            "threshold": [getattr(by_seq.get(int(s)), "threshold", None) for s in x],
        }
        chart = over(name, x, lines, "window")
        chart["note"] = ", ".join(tests)
        charts.append(chart)
    return charts


def _quality_charts(results: list[StoredResult], x: list[float]) -> list[dict[str, Any]]:
    """Each quality metric over the windows: realized from feedback and, where the monitor
    estimates it, the estimate with its band."""
    keys: dict[str, None] = {}
    for result in results:
        window = result.window
        keys.update(dict.fromkeys(window.performance.metrics if window.performance else {}))
        keys.update(dict.fromkeys(window.estimated.metrics if window.estimated else {}))
    charts = []
    for key in keys:
        realized, estimated, lower, upper = [], [], [], []
        for result in results:
            window = result.window
            realized.append(window.performance.metrics.get(key) if window.performance else None)
            band = (window.estimated.metrics.get(key) or {}) if window.estimated else {}
            estimated.append(band.get("value"))
            lower.append(band.get("lower"))
            upper.append(band.get("upper"))
        lines: dict[str, list[float | None]] = {"realized": realized}
        if any(v is not None for v in estimated):
            lines.update({"estimated": estimated, "band low": lower, "band high": upper})
        charts.append(over(key, x, lines, "window"))
    return charts


def _latency_chart(results: list[StoredResult], x: list[float]) -> dict[str, Any] | None:
    overall = [
        next((item for item in r.window.latency if item.model is None), None) for r in results
    ]
    if not any(overall):
        return None
    lines = {
        name: [getattr(item, name, None) for item in overall]
        for name in ("p50_ms", "p95_ms", "p99_ms")
    }
    return over("latency (ms)", x, lines, "window")


def monitor_view(ctx: PageContext, name: str) -> Response:
    monitors = ctx.client.monitors
    monitor = monitors.get(name)
    token = ctx.request.query_params.get("page") or None
    page = monitors.results(name, max_results=WINDOWS, page_token=token, newest_first=True)
    results = list(reversed(page))
    x = [float(r.seq) for r in results]
    alerts = list(monitors.alerts.list(monitor=name, max_results=ALERTS_SHOWN))
    older = f"?page={quote(page.next_page_token)}" if page.next_page_token else None
    return ctx.render(
        "monitor.html",
        monitor=monitor,
        results=results,
        heat=heat_rows(results),
        levels=LEVELS,
        column_charts=_column_charts(results, x),
        quality_charts=_quality_charts(results, x),
        latency_chart=_latency_chart(results, x),
        alerts=[(a, alert_state(a)) for a in alerts],
        refusal=may_act(ctx.principal),
        older_link=older,
        newest_link="?" if token else None,
        done=ctx.request.query_params.get("done"),
    )


def _text(form: dict[str, str], field: str) -> str | None:
    value = (form.get(field) or "").strip() or None
    if value is not None and len(value) > MAX_TEXT:
        raise ValidationError(f"a {field} holds at most {MAX_TEXT} characters")
    return value


def act(ctx: PageContext, form: dict[str, str], alert_id: str, verb: str) -> Response:
    alerts = ctx.client.monitors.alerts
    if verb == "acknowledge":
        done = alerts.acknowledge(alert_id, comment=_text(form, "comment"))
    else:
        reason = _text(form, "reason")
        if reason is None:
            raise ValidationError("say why the alert is resolved: the reason goes to the audit log")
        done = alerts.resolve(alert_id, reason=reason)
    return ctx.redirect(f"/monitors/{quote(done.monitor)}?done={verb}d+{done.id}")


async def monitors_page(request: Request) -> Response:
    return await serve(request, monitors_view)


async def monitor_page(request: Request) -> Response:
    name = request.path_params["name"]
    return await serve(request, lambda ctx: monitor_view(ctx, name))


async def acknowledge(request: Request) -> Response:
    alert_id = request.path_params["alert_id"]
    return await serve_form(request, lambda ctx, form: act(ctx, form, alert_id, "acknowledge"))


async def resolve(request: Request) -> Response:
    alert_id = request.path_params["alert_id"]
    return await serve_form(request, lambda ctx, form: act(ctx, form, alert_id, "resolve"))
