"""Monitors and alerts: declare a monitor, run it now, read its results (JSON) and its
report (HTML), list and read alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from starlette.responses import Response

from loopml.monitoring.records import MonitorRun
from loopml.server.ops_bodies import AcknowledgeAlert, CreateMonitor, ResolveAlert, RunMonitor
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("monitors")
HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}}
}


def run_document(run: MonitorRun) -> dict[str, Any]:
    """A run's window result and alert changes, conditions in full (rule included), so a
    remote client rebuilds the same records."""
    changes = run.alerts.to_dict()
    changes["unknown"] = [
        {
            "rule": c.rule.to_dict(),
            "subject": c.subject,
            "state": c.state,
            "value": c.value,
            "threshold": c.threshold,
            "message": c.message,
        }
        for c in run.alerts.unknown
    ]
    return {"result": run.result.to_dict(), "alerts": changes}


def list_monitors(state: State) -> Response:
    return json_response({"monitors": state.client.monitors.list()})


def get_monitor(name: str, state: State) -> Response:
    return json_response(state.client.monitors.get(name))


def monitor_reference(name: str, state: State) -> Response:
    """The reference data the monitor compares with (its own, or its model's training data)."""
    return json_response({"reference": state.client.monitors.reference_of(name)})


def create_monitor(body: CreateMonitor, state: State) -> Response:
    """Declare (or with `replace`, redeclare) a monitor; checked now, run later."""
    options = body.model_dump(exclude={"name", "source"})
    created = state.client.monitors.create(body.name, body.source, **options)
    return json_response(created, 201)


def run_monitor(name: str, body: RunMonitor, state: State) -> Response:
    """Compute and record every complete window after the cursor, now."""
    done = state.client.monitors.run(name, partial=body.partial, limit=body.limit)
    return json_response({"runs": [run_document(run) for run in done]})


def monitor_results(
    name: str,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    newest_first: Annotated[bool | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Without `newest_first`: the newest `limit` results, oldest first. With it: a page
    in that order, and `next_page_token` for the next one."""
    service = state.client.monitors
    if newest_first is None and page_token is None:
        newest = service.results(name, max_results=limit, newest_first=True)
        return json_response({"results": list(reversed(newest)), "next_page_token": None})
    page = service.results(
        name, max_results=limit, page_token=page_token, newest_first=bool(newest_first)
    )
    return json_response({"results": list(page), "next_page_token": page.next_page_token})


def monitor_result(
    name: str, state: State, seq: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """Result number `seq` as JSON (the latest without it): the report's data."""
    return json_response(state.client.monitors.result(name, seq))


def monitor_report(
    name: str,
    state: State,
    seq: Annotated[int | None, Query(ge=1)] = None,
    history: Annotated[int, Query(ge=0, le=1000)] = 30,
) -> Response:
    """One result (the newest without `seq`) as a self-contained HTML page (drift charts)."""
    html = state.client.monitors.report(name, seq, history=history)
    return Response(html, media_type="text/html; charset=utf-8")


def list_alerts(
    state: State,
    monitor: str | None = None,
    state_: Annotated[
        Literal["open", "resolved"] | None, Query(alias="state", description="open or resolved")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    page_token: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Alerts, newest first, a page at a time (`next_page_token`)."""
    page = state.client.monitors.alerts.list(
        monitor, state_, max_results=limit, page_token=page_token
    )
    return json_response({"alerts": list(page), "next_page_token": page.next_page_token})


def get_alert(alert_id: str, state: State) -> Response:
    return json_response(state.client.monitors.alerts.get(alert_id))


def acknowledge_alert(alert_id: str, body: AcknowledgeAlert, state: State) -> Response:
    """Record who has seen an open alert; it stays open."""
    alerts = state.client.monitors.alerts
    return json_response(alerts.acknowledge(alert_id, comment=body.comment))


def resolve_alert(alert_id: str, body: ResolveAlert, state: State) -> Response:
    """Close an open alert by hand, saying why."""
    return json_response(state.client.monitors.alerts.resolve(alert_id, reason=body.reason))


api.route("GET", "/monitors", list_monitors, role="viewer", summary="List monitors")
api.route("POST", "/monitors", create_monitor, role="editor", status_code=201, summary="Create")
api.route("GET", "/monitors/{name}", get_monitor, role="viewer", summary="One monitor")
api.route("GET", "/monitors/{name}/reference", monitor_reference, role="viewer")
api.route("POST", "/monitors/{name}/run", run_monitor, role="editor", summary="Run now")
api.route("GET", "/monitors/{name}/results", monitor_results, role="viewer")
api.route("GET", "/monitors/{name}/result", monitor_result, role="viewer", summary="A result")
api.route("GET", "/monitors/{name}/report", monitor_report, role="viewer", responses=HTML)
api.route("GET", "/alerts", list_alerts, role="viewer", summary="List alerts")
api.route("GET", "/alerts/{alert_id}", get_alert, role="viewer", summary="One alert")
api.route("POST", "/alerts/{alert_id}/acknowledge", acknowledge_alert, role="editor")
api.route("POST", "/alerts/{alert_id}/resolve", resolve_alert, role="editor", summary="Resolve")
