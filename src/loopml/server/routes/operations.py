"""What runs in production, read-only here: deployments, rollouts, monitors and alerts,
triggers, pipelines and their runs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query
from starlette.responses import Response

from loopml.pipelines import list_pipeline_runs
from loopml.pipelines.catalog import PipelineCatalog
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("operations")


def list_deployments(state: State) -> Response:
    return json_response({"deployments": state.client.deployments.list()})


def get_deployment(name: str, state: State) -> Response:
    return json_response(state.client.deployments.get(name))


def deployment_history(name: str, state: State) -> Response:
    return json_response({"history": state.client.deployments.history(name)})


def list_monitors(state: State) -> Response:
    return json_response({"monitors": state.client.monitors.list()})


def get_monitor(name: str, state: State) -> Response:
    return json_response(state.client.monitors.get(name))


def monitor_results(
    name: str, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> Response:
    newest = state.client.monitors.results(name, max_results=limit, newest_first=True)
    return json_response({"results": list(reversed(newest))})


def list_alerts(
    state: State,
    monitor: str | None = None,
    state_: Annotated[
        Literal["open", "resolved"] | None, Query(alias="state", description="open or resolved")
    ] = None,
) -> Response:
    return json_response({"alerts": state.client.monitors.alerts.list(monitor, state_)})


def monitor_report(name: str, state: State) -> Response:
    """The monitor's newest result as one self-contained HTML page (drift charts)."""
    html = state.client.monitors.report(name)
    return Response(html, media_type="text/html; charset=utf-8")


def list_rollouts(
    state: State,
    state_: Annotated[str | None, Query(alias="state", description="e.g. active")] = None,
    deployment: str | None = None,
) -> Response:
    return json_response({"rollouts": state.client.rollouts.list(state_, deployment=deployment)})


def get_rollout(deployment: str, state: State) -> Response:
    """The deployment's latest rollout: plan, step, analysis."""
    return json_response(state.client.rollouts.get(deployment))


def list_pipelines(state: State) -> Response:
    """The pipelines triggers may launch."""
    return json_response({"pipelines": PipelineCatalog(state.client.stores).list()})


def pipeline_runs(
    state: State,
    pipeline: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """Pipeline runs, newest first, with their step counts (run, cached, failed)."""
    found = list_pipeline_runs(state.client.stores, pipeline, limit=limit)
    return json_response({"pipeline_runs": found})


def list_triggers(state: State) -> Response:
    return json_response({"triggers": state.client.triggers.list()})


def get_trigger(name: str, state: State) -> Response:
    return json_response(state.client.triggers.get(name))


api.route("GET", "/deployments", list_deployments, role="viewer", summary="List deployments")
api.route("GET", "/deployments/{name}", get_deployment, role="viewer", summary="One deployment")
api.route("GET", "/deployments/{name}/history", deployment_history, role="viewer")
api.route("GET", "/monitors", list_monitors, role="viewer", summary="List monitors")
api.route("GET", "/monitors/{name}", get_monitor, role="viewer", summary="One monitor")
api.route("GET", "/monitors/{name}/results", monitor_results, role="viewer")
api.route(
    "GET",
    "/monitors/{name}/report",
    monitor_report,
    role="viewer",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
api.route("GET", "/alerts", list_alerts, role="viewer", summary="List alerts")
api.route("GET", "/rollouts", list_rollouts, role="viewer", summary="List rollouts")
api.route("GET", "/rollouts/{deployment}", get_rollout, role="viewer", summary="One rollout")
api.route("GET", "/pipelines", list_pipelines, role="viewer", summary="Registered pipelines")
api.route("GET", "/pipeline-runs", pipeline_runs, role="viewer", summary="Pipeline runs")
api.route("GET", "/triggers", list_triggers, role="viewer", summary="List triggers")
api.route("GET", "/triggers/{name}", get_trigger, role="viewer", summary="One trigger")
