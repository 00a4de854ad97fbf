"""Pipelines: the registered ones (admins register), their runs, and launching one.

A launch names a registered pipeline; a `module:attr` is refused before anything is
imported, so a caller cannot make the server run code an admin did not register.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.responses import Response

from loopml.server.ops_bodies import LaunchPipeline, RegisterPipeline
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("pipelines")


def list_pipelines(state: State) -> Response:
    """The pipelines triggers may launch."""
    return json_response({"pipelines": state.client.pipelines.list()})


def register_pipeline(body: RegisterPipeline, state: State) -> Response:
    """Register project code the server can import, pinned to its current fingerprint."""
    record = state.client.pipelines.register(body.name, body.import_path)
    return json_response(record, 201)


def pipeline_runs(
    state: State,
    pipeline: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """Pipeline runs, newest first, with their step counts (run, cached, failed)."""
    found = state.client.pipelines.runs(pipeline, limit=limit)
    return json_response({"pipeline_runs": found})


def launch_pipeline(body: LaunchPipeline, state: State) -> Response:
    """Run a registered pipeline to its end on the server; the answer is its outcome."""
    outcome = state.client.pipelines.launch(body.pipeline, body.params)
    return json_response(outcome, 201)


api.route("GET", "/pipelines", list_pipelines, role="viewer", summary="Registered pipelines")
api.route("POST", "/pipelines", register_pipeline, role="admin", status_code=201)
api.route("GET", "/pipeline-runs", pipeline_runs, role="viewer", summary="Pipeline runs")
api.route("POST", "/pipeline-runs", launch_pipeline, role="editor", status_code=201)
