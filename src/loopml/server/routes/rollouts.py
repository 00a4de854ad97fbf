"""Rollouts: start a progressive rollout of a candidate on a deployment, advance it one
idempotent step (what the controller does), abort it, read it and its transitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.responses import Response

from loopml.server.ops_bodies import AbortRollout, StartRollout
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("rollouts")


def list_rollouts(
    state: State,
    state_: Annotated[str | None, Query(alias="state", description="e.g. active")] = None,
    deployment: str | None = None,
) -> Response:
    return json_response({"rollouts": state.client.rollouts.list(state_, deployment=deployment)})


def get_rollout(deployment: str, state: State) -> Response:
    """The deployment's latest rollout: plan, step, analysis."""
    return json_response(state.client.rollouts.get(deployment))


def rollout_history(rollout_id: str, state: State) -> Response:
    """Every transition of one rollout, oldest first."""
    return json_response({"history": state.client.rollouts.history(rollout_id)})


def start_rollout(body: StartRollout, state: State) -> Response:
    started = state.client.rollouts.start(
        body.deployment, body.model, body.plan, reason=body.reason
    )
    return json_response(started, 201)


def advance_rollout(deployment: str, state: State) -> Response:
    """One reconcile of the deployment's rollout: at most one transition."""
    return json_response(state.client.rollouts.advance(deployment))


def abort_rollout(deployment: str, body: AbortRollout, state: State) -> Response:
    return json_response(state.client.rollouts.abort(deployment, body.reason))


api.route("GET", "/rollouts", list_rollouts, role="viewer", summary="List rollouts")
api.route("POST", "/rollouts", start_rollout, role="editor", status_code=201, summary="Start")
api.route("GET", "/rollouts/{deployment}", get_rollout, role="viewer", summary="One rollout")
api.route("POST", "/rollouts/{deployment}/advance", advance_rollout, role="editor")
api.route("POST", "/rollouts/{deployment}/abort", abort_rollout, role="editor", summary="Abort")
api.route("GET", "/rollout-history/{rollout_id}", rollout_history, role="viewer")
