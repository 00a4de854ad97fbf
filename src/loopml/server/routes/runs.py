"""Experiments and runs: create, log (params, tags, metric streams), end, read, search."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from loopml.server.bodies import (
    Batch,
    CreateExperiment,
    CreateRun,
    EndRun,
    Params,
    RunInput,
    StreamSegment,
    Tags,
)
from loopml.server.json_body import body_schema, read_body
from loopml.server.payloads import json_response, plain_json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state
from loopml.tracking.captures import RemoteCapture
from loopml.tracking.records import RunRecord
from loopml.tracking.streams import Absorbed, RunStart, Segment
from loopml.validation import KEY_PATTERN, MAX_KEY_LEN, check_key, check_text_value

State = Annotated[ServerState, Depends(server_state)]
api = Api("runs")


def list_experiments(state: State) -> Response:
    return json_response({"experiments": state.client.tracking.list_experiments()})


def create_experiment(body: CreateExperiment, state: State) -> Response:
    """The experiment of that name, created unless it exists."""
    found = state.client.tracking.experiment_id(body.name)
    return json_response({"id": found, "name": body.name}, 201)


def _creation(body: CreateRun, state: ServerState) -> dict[str, Any]:
    """What `create_run` needs from a CreateRun body; params and tags checked first."""
    tracking = state.client.tracking
    for key, value in body.params.items():
        check_text_value("param", check_key("param", key), value)
    code = body.code
    return {
        "name": body.name,
        "parent_id": None if body.parent_id is None else tracking.resolve_run_id(body.parent_id),
        "tags_": body.tags,
        "captured": None
        if code is None
        else RemoteCapture(
            code.commit, code.dirty, code.diff_digest, code.packages_digest, code.environment
        ),
    }


def create_run(body: CreateRun, state: State) -> Response:
    """A RUNNING run; params and tags are checked before it is created."""
    tracking = state.client.tracking
    run_id = tracking.create_run(
        body.experiment, capture=False, local_process=False, **_creation(body, state)
    )
    if body.params:
        tracking.log_params(run_id, body.params)
    return json_response(
        {"id": run_id, "experiment": body.experiment, "uri": "run:" + run_id[4:]}, 201
    )


def _start(state: ServerState, body: CreateRun | None) -> RunStart | None:
    """The `create` of a run's first request (the streams make the run unless it exists)."""
    if body is None:
        return None
    found = _creation(body, state)
    return RunStart(
        body.experiment,
        found["name"],
        found["parent_id"],
        body.params,
        found["tags_"],
        found["captured"],
    )


def run_document(run: RunRecord) -> dict[str, Any]:
    """`RunRecord.to_dict()` without its costs: no deep copy (the record's dicts are
    encoded as they are) and the environment's stored JSON text passed through unparsed."""
    raw = run.environment_json
    return {
        "id": run.id,
        "experiment": run.experiment,
        "name": run.name,
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "parent_id": run.parent_id,
        "params": run.params,
        "metrics": run.metrics,
        "tags": run.tags,
        "inputs": run.inputs,
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
        "git_diff_digest": run.git_diff_digest,
        "environment": orjson.Fragment(raw) if isinstance(raw, str) else raw,
        "error": run.error,
        "created_by": run.created_by,
        "deleted_at": run.deleted_at,
    }


def get_run(run_id: str, state: State) -> Response:
    return plain_json_response(run_document(state.client.tracking.get_run(run_id)))


def search_runs(
    state: State,
    experiment: Annotated[list[str] | None, Query(description="Experiment names.")] = None,
    filter: Annotated[str | None, Query(description="e.g. metrics.rmse < 3")] = None,
    order_by: Annotated[list[str] | None, Query(description="e.g. metrics.rmse DESC")] = None,
    max_results: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    page_token: str | None = None,
) -> Response:
    found = state.client.tracking.search_runs(experiment, filter, order_by, max_results, page_token)
    documents = [run_document(run) for run in found]
    return plain_json_response({"runs": documents, "next_page_token": found.next_page_token})


def metric_history(
    run_id: str,
    state: State,
    key: Annotated[
        str,
        Query(
            json_schema_extra={"pattern": KEY_PATTERN, "maxLength": MAX_KEY_LEN},
            description="The metric key.",
        ),
    ],
    max_points: Annotated[int | None, Query(ge=2, le=100_000)] = None,
) -> Response:
    points = state.client.tracking.metric_history(run_id, key, max_points)
    return json_response({"key": key, "points": [[p.step, p.value, p.timestamp] for p in points]})


def log_params(run_id: str, body: Params, state: State) -> Response:
    tracking = state.client.tracking
    tracking.log_params(tracking.resolve_run_id(run_id), body.params)
    return json_response({"run_id": run_id})


def set_tags(run_id: str, body: Tags, state: State) -> Response:
    tracking = state.client.tracking
    tracking.set_tags(tracking.resolve_run_id(run_id), body.tags)
    return json_response({"run_id": run_id})


def _segment(segment: StreamSegment | None) -> Segment | None:
    """FastAPI has given each field of the points its type and checked its bounds
    (bodies.py: finite values and timestamps, steps and timestamps ≥ 0, at most
    MAX_BATCH_POINTS), so the streams check only the keys (a point-by-point
    `check_points` cost 0.3 ms per 1,000)."""
    if segment is None:
        return None
    return Segment(segment.id, segment.start, segment.end, segment.points)


def _count(state: ServerState, segment: Segment | None, done: Absorbed | None) -> None:
    if segment is None or done is None:
        return
    if segment.points and not done.written:
        state.metrics.duplicate_batches.inc()
    state.metrics.metric_points.inc(done.written)


async def log_batch(run_id: str, request: Request, state: State) -> Response:
    """Every run's first request (see json_body.py)."""
    body = await read_body(request, Batch)
    return await run_in_threadpool(_log_batch, state, run_id, body)


def _log_batch(state: ServerState, run_id: str, body: Batch) -> Response:
    """The run itself if `create` is given, params and tags (idempotent), then a segment of
    the run's metric stream (written once per byte range, however often it is sent)."""
    segment = _segment(body.stream)
    streams = state.client.tracking.streams
    done = streams.log_batch(run_id, _start(state, body.create), body.params, body.tags, segment)
    _count(state, segment, done)
    answer: dict[str, Any] = {"run_id": run_id}
    if done is not None:
        answer["absorbed"] = done.offset
    return json_response(answer)


def stream_offset(run_id: str, stream_id: str, state: State) -> Response:
    """How far the run holds a stream: where its client resumes after a crash."""
    absorbed = state.client.tracking.streams.absorbed(run_id, stream_id)
    return json_response({"run_id": run_id, "stream_id": stream_id, "absorbed": absorbed})


async def end_run(run_id: str, request: Request, state: State) -> Response:
    """Every run's last request (see json_body.py)."""
    body = await read_body(request, EndRun)
    return await run_in_threadpool(_end_run, state, run_id, body)


def _end_run(state: ServerState, run_id: str, body: EndRun) -> Response:
    """Create the run if `create` is given (a short run in one request), absorb the stream's
    last segment, then end the run — once the run holds its stream up to `stream_end`.
    Ending an ended run changes nothing (a retry is safe)."""
    segment = _segment(body.stream)
    done = state.client.tracking.streams.end(
        run_id,
        body.status,
        error=body.error,
        start=_start(state, body.create),
        segment=segment,
        stream_id=body.stream_id,
        stream_end=body.stream_end,
    )
    _count(state, segment, done.absorbed)
    return json_response({"run_id": run_id, "ended": done.ended})


def log_input(run_id: str, body: RunInput, state: State) -> Response:
    client = state.client
    run_id = client.tracking.resolve_run_id(run_id)
    version = client.datasets.get(body.dataset)
    client.tracking.log_input(run_id, version.id, body.role)
    return json_response(
        {"run_id": run_id, "dataset": version.uri, "dataset_id": version.id, "role": body.role}
    )


api.route("GET", "/experiments", list_experiments, role="viewer", summary="List experiments")
api.route(
    "POST",
    "/experiments",
    create_experiment,
    role="editor",
    status_code=201,
    summary="Find or create an experiment",
)
api.route("POST", "/runs", create_run, role="editor", status_code=201, summary="Create a run")
api.route("GET", "/runs", search_runs, role="viewer", summary="Search runs")
api.route("GET", "/runs/{run_id}", get_run, role="viewer", summary="One run")
api.route("GET", "/runs/{run_id}/metric-history", metric_history, role="viewer")
api.route("POST", "/runs/{run_id}/params", log_params, role="editor", summary="Log params")
api.route("POST", "/runs/{run_id}/tags", set_tags, role="editor", summary="Set tags")
api.route(
    "POST",
    "/runs/{run_id}/batches",
    log_batch,
    role="editor",
    summary="Log a batch",
    request_body=body_schema(Batch),
)
api.route("GET", "/runs/{run_id}/streams/{stream_id}", stream_offset, role="viewer")
api.route(
    "POST",
    "/runs/{run_id}/end",
    end_run,
    role="editor",
    summary="End a run",
    request_body=body_schema(EndRun),
)
api.route("POST", "/runs/{run_id}/inputs", log_input, role="editor", summary="Link a dataset")
