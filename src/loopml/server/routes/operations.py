"""What runs in production, read-only here: deployments, monitors and alerts, triggers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query
from starlette.responses import Response

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
    return json_response({"results": state.client.monitors.results(name, limit=limit)})


def list_alerts(
    state: State,
    monitor: str | None = None,
    state_: Annotated[
        Literal["open", "resolved"] | None, Query(alias="state", description="open or resolved")
    ] = None,
) -> Response:
    return json_response({"alerts": state.client.monitors.alerts.list(monitor, state_)})


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
api.route("GET", "/alerts", list_alerts, role="viewer", summary="List alerts")
api.route("GET", "/triggers", list_triggers, role="viewer", summary="List triggers")
api.route("GET", "/triggers/{name}", get_trigger, role="viewer", summary="One trigger")
