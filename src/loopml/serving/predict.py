"""The predict path: body → payload → route → validated rows → scores → answer.

Kept lean on purpose: no pandas for models that take arrays, the predict call made inline
on the event loop for small requests (a thread hand-off costs more than a 1-row predict),
metrics children bound once per model, and one orjson call to build the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from loopml.prediction_log import PredictionRecord
from loopml.serving.errors import JSON, ServingError, not_served
from loopml.serving.event_time import EVENT_TIME_HEADER, event_time_of
from loopml.serving.features import with_features
from loopml.serving.metrics import UNKNOWN
from loopml.serving.parsing import Payload, decode_json, payload_of
from loopml.serving.routing import RouteTable, Target
from loopml.serving.scoring import Scores
from loopml.serving.state import ServingState
from loopml.serving.validation import CheckedRows, Row

log = logging.getLogger(__name__)

STICKY_HEADER = "x-loopml-key"
BODY_TIMEOUT_S = 30.0
CLIENT_CLOSED = 499  # nginx's status for a request the client gave up on; never sent
REQUEST_ID_HEADER = "x-request-id"
IGNORED_HEADER = "x-loopml-ignored-columns"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; HTTP 415 unless it is declared JSON (or not declared at all), 413 as
    soon as it is known to exceed `limit` bytes."""
    check_json_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):  # a trickled body must not hold a slot
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise ServingError.one(
            408,
            "body",
            f"the body did not arrive within {BODY_TIMEOUT_S:g} s",
            "send the whole body at once",
        ) from None
    return b"".join(chunks)


def check_json_content_type(header: str | None) -> None:
    """Accept `application/json`, `application/*+json` and no Content-Type; 415 otherwise."""
    if header is None:
        return
    media = header.split(";", 1)[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return
    raise ServingError.one(
        415,
        "content-type",
        f"the body is declared as {media or 'nothing'!r}; only JSON is read",
        "send it with Content-Type: application/json (curl: --json or -H 'Content-Type: "
        "application/json')",
    )


def too_large(limit: int) -> ServingError:
    return ServingError.one(
        413,
        "body",
        f"the body is larger than {limit} bytes",
        "split the records over several requests, or start the server with a larger --max-body-mb",
    )


async def predict(state: ServingState, name: str, request: Request) -> Response:
    """Answer one predict request for deployment `name`; errors become JSON responses."""
    started = time.perf_counter()
    table = state.watcher.tables.get(name)
    label = name if table is not None else UNKNOWN
    target: Target | None = None
    try:  # refused callers are not logged: they must not move the deployment's error rate
        if table is None:
            raise not_served(name, sorted(state.watcher.tables))
        state.auth.check(request.headers.get("authorization"), name, "predict")
    except ServingError as exc:
        state.metrics.error(label, exc.status)
        return exc.response()
    event_time: float | None = None
    try:
        body = await state.read_counted(read_body(request, state.max_body_bytes))
        data = decode_json(body)
        event_time = event_time_of(request.headers.get(EVENT_TIME_HEADER), data, time.time())
        payload = payload_of(data)
        target = _route(table, payload, request)
        if table.features is not None:
            payload = with_features(state.features, table.features, payload, target.runner.names)
        checked = target.runner.check(payload, table.inputs, table.deployment)
        scores = await _score(state, table, target, checked.rows)
    except ServingError as exc:
        state.metrics.error(label, exc.status)
        return _failed(
            state, table, target, request, started, exc.status, exc.response(), event_time
        )
    except ClientDisconnect:  # the caller left: nobody to answer, and not the model's failure
        log.debug("client disconnected before sending its whole body to %s", name)
        return Response(status_code=CLIENT_CLOSED)
    except Exception:
        state.metrics.error(label, 500)
        log.exception("predict on deployment %s failed", name)
        failure = ServingError.one(
            500, "server", "the server failed to score this request", "see the server log"
        )
        return _failed(state, table, target, request, started, 500, failure.response(), event_time)
    request_id = state.request_id(request.headers.get(REQUEST_ID_HEADER))
    latency = time.perf_counter() - started
    _log(state, table, target, request_id, payload, checked, scores, latency, event_time)
    answer: dict[str, Any] = {"predictions": scores.predictions}
    if scores.probabilities is not None:
        answer["probabilities"] = scores.probabilities
    answer["model"] = target.uri
    answer["request_id"] = request_id
    headers = {REQUEST_ID_HEADER: request_id}
    if checked.unseen is not None:
        answer["unseen_categories"] = checked.unseen
    if checked.ignored:
        answer["ignored_columns"] = list(checked.ignored)
        headers[IGNORED_HEADER] = str(len(checked.ignored))  # names may not fit a header
    meter = target.meter
    meter.requests.inc()
    meter.rows.inc(len(checked.rows))
    meter.latency.observe(latency)
    return Response(orjson.dumps(answer), media_type=JSON, headers=headers)


def _failed(
    state: ServingState,
    table: RouteTable | None,
    target: Target | None,
    request: Request,
    started: float,
    status: int,
    response: Response,
    event_time: float | None = None,
) -> Response:
    """Log a refused request of a served deployment (for its error rate) and answer it.

    Requests to a deployment not served here have no prediction log to go to.
    """
    if table is None:
        return response
    request_id = state.request_id(request.headers.get(REQUEST_ID_HEADER))
    response.headers[REQUEST_ID_HEADER] = request_id
    state.record(
        PredictionRecord(
            deployment=table.deployment,
            request_id=request_id,
            model="" if target is None else target.uri,
            inputs=[],
            outputs=[],
            probabilities=None,
            latency_ms=(time.perf_counter() - started) * 1000,
            shadow=False,
            at=time.time(),
            status=status,
            event_time=event_time,
        )
    )
    return response


def _route(table: RouteTable, payload: Payload, request: Request) -> Target:
    key = request.headers.get(STICKY_HEADER)
    if key is None and table.sticky_key is not None:
        key = payload.first_value(table.sticky_key)
    target = table.choose(key)
    if target is None:
        raise ServingError.one(
            503,
            "deployment",
            f"deployment {table.deployment!r} has no route with traffic (revision "
            f"{table.revision})",
            "give one of its routes a weight above 0",
        )
    return target


async def _score(state: ServingState, table: RouteTable, target: Target, rows: list[Row]) -> Scores:
    runner = target.runner
    batcher = state.batcher(table, runner)
    if batcher is not None and len(rows) < batcher.config.max_rows:
        return await batcher.score(rows)
    if len(rows) > state.inline_rows:  # keep the event loop answering during big batches
        return await run_in_threadpool(runner.score, rows)
    return runner.score(rows)


def _log(
    state: ServingState,
    table: RouteTable,
    target: Target,
    request_id: str,
    payload: Payload,
    checked: CheckedRows,
    scores: Scores,
    latency: float,
    event_time: float | None,
) -> None:
    """Record the prediction, then hand the same input to every shadow model."""
    if state.predictions is not None:
        state.answered.add(request_id, table.deployment, target.uri, len(checked.rows))
        state.record(
            PredictionRecord(
                deployment=table.deployment,
                request_id=request_id,
                model=target.uri,
                inputs=target.runner.records_of(payload, checked, scores),
                outputs=scores.predictions,
                probabilities=scores.probabilities,
                latency_ms=latency * 1000,
                shadow=False,
                at=time.time(),
                event_time=event_time,
                unseen=checked.unseen,
            )
        )
    for shadow in table.mirrored():
        state.shadows.submit(
            table.deployment, request_id, payload, shadow, table.inputs, event_time
        )
