"""The data plane's routes; each reads `request.app.state.serving`, nothing global."""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from loopml.prediction_log import PredictionLog
from loopml.registry.packaging import FieldError
from loopml.serving import predict as predict_path
from loopml.serving.errors import JSON, ServingError, error_response, not_served
from loopml.serving.event_time import EVENT_TIME_HEADER, event_time_of
from loopml.serving.feedback import Answered, LabelRule, check_labels, never_answered
from loopml.serving.parsing import decode_json
from loopml.serving.routing import RouteTable, Target
from loopml.serving.state import ServingState


def _state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


async def predict(name: str, request: Request) -> Response:
    """Score records with the deployment's model (weighted, sticky or canary routing)."""
    return await predict_path.predict(_state(request), name, request)


async def invocations(request: Request) -> Response:
    """MLflow-compatible scoring: the one deployment this server serves."""
    state = _state(request)
    served = sorted(state.watcher.known | set(state.watcher.tables))
    if len(served) != 1:
        state.metrics.error("unknown", 400)
        return ServingError.one(
            400,
            "deployment",
            f"this server serves {len(served)} deployments, so /invocations is ambiguous",
            "post to /v1/deployments/{name}/predict; served: " + (", ".join(served) or "none"),
        ).response()
    return await predict_path.predict(state, served[0], request)


async def feedback(name: str, request: Request) -> Response:
    """Record the true label of an answered prediction (a new version if it had one)."""
    state = _state(request)
    checked = False
    try:
        if name not in state.watcher.tables:
            raise not_served(name, sorted(state.watcher.tables))
        state.auth.check(request.headers.get("authorization"), name, "feedback")
        checked = True
        log = state.predictions
        if log is None:
            raise ServingError.one(
                409,
                "server",
                "this server runs without a prediction log",
                "start it without --no-log to collect feedback",
            )
        body = await predict_path.read_body(request, state.max_body_bytes)
        data = decode_json(body)
        event_time = event_time_of(request.headers.get(EVENT_TIME_HEADER), data, time.time())
        request_id, label, per_row = _feedback_of(data)
        answered = await _answered(state, log, name, request_id)
        rule = await _label_rule(state, answered.model)
        check_labels(rule, label, answered.rows, per_row)
        version = state.answered.next_version(answered)
        log.record_feedback(name, request_id, label, version=version, event_time=event_time)
    except ServingError as exc:
        state.metrics.error(name if name in state.watcher.tables else "unknown", exc.status)
        if checked and state.feedback_audit is not None:
            state.feedback_audit.count(name, "refused")
        return exc.response()
    except ClientDisconnect:
        return Response(status_code=predict_path.CLIENT_CLOSED)
    if state.feedback_audit is not None:
        state.feedback_audit.count(name, "relabels" if version > 1 else "labels")
    return _json(
        {"deployment": name, "request_id": request_id, "recorded": True, "version": version}
    )


async def _answered(
    state: ServingState, log: PredictionLog, name: str, request_id: str
) -> Answered:
    """This deployment's answer to `request_id`: from memory, else from the log; else 404."""
    answered = state.answered.get(request_id)
    if answered is not None and answered.deployment == name:
        return answered
    found = await run_in_threadpool(log.answered, name, request_id)
    if found is None:
        raise never_answered(name, request_id)
    fresh = Answered(name, found.model, found.rows, found.labels)
    if answered is not None:  # the id also names another deployment's answer
        return fresh
    return state.answered.remember(request_id, fresh)


async def _label_rule(state: ServingState, uri: str) -> LabelRule:
    rule = state.label_rules.get(uri)
    if rule is None:
        runner = state.cache.peek(uri)
        model = (
            runner.model if runner is not None else await run_in_threadpool(state.cache.load, uri)
        )
        rule = state.label_rules[uri] = LabelRule.of(model)
    return rule


def _feedback_of(data: Any) -> tuple[str, Any, bool]:
    """(request id, label or labels, whether per row)."""
    hint = (
        'send {"request_id": "...", "label": ...} or {"request_id": "...", "labels": [...]}, '
        "optionally with an event_time"
    )
    if not isinstance(data, dict):
        raise ServingError.one(422, "body", "expected a JSON object", hint)
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise ServingError.one(422, "request_id", "missing or not a string", hint)
    if ("label" in data) == ("labels" in data):
        raise ServingError.one(422, "label", "send exactly one of label and labels", hint)
    unknown = sorted(set(data) - {"request_id", "label", "labels"})
    if unknown:
        raise ServingError.one(422, unknown[0], "unexpected field", hint)
    if "labels" in data:
        if not isinstance(data["labels"], list) or not data["labels"]:
            raise ServingError.one(422, "labels", "expected a non-empty list", hint)
        return request_id, data["labels"], True
    return request_id, data["label"], False


def _describe(table: RouteTable, with_signature: bool = False) -> dict[str, Any]:
    def target(t: Target, weight: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"model": t.uri}
        if weight:
            out["weight"] = t.weight
        if with_signature:
            signature = t.runner.model.signature
            out["signature"] = signature.to_dict() if signature is not None else None
            out["input"] = "ndarray" if t.runner.uses_array else "dataframe"
        return out

    return {
        "name": table.deployment,
        "revision": table.revision,
        "strategy": table.strategy,
        "sticky_key": table.sticky_key,
        "routes": [target(t) for t in table.targets],
        "shadows": [target(t, weight=False) for t in table.shadows],
        "inputs": table.inputs.to_config(),
    }


async def list_deployments(request: Request) -> Response:
    """The deployments this server serves, with the revision and routes it runs now."""
    watcher = _state(request).watcher
    tables = watcher.tables
    return _json(
        {
            "deployments": [_describe(tables[name]) for name in sorted(tables)],
            "missing": watcher.missing(),
            "problems": dict(watcher.problems),
        }
    )


async def get_deployment(name: str, request: Request) -> Response:
    """One served deployment, with each model's input signature."""
    state = _state(request)
    table = state.watcher.tables.get(name)
    if table is None:
        return not_served(name, sorted(state.watcher.tables)).response()
    return _json(_describe(table, with_signature=True))


async def healthz(request: Request) -> Response:
    """The process is up (liveness); `pid` tells the workers of `--workers N` apart."""
    return _json({"status": "ok", "pid": os.getpid()})


async def readyz(request: Request) -> Response:
    """Every served deployment has its models loaded (readiness)."""
    watcher = _state(request).watcher
    missing = watcher.missing()
    revisions = {name: t.revision for name, t in sorted(watcher.tables.items())}
    body = {"ready": not missing, "deployments": revisions, "missing": missing}
    if missing:
        body["problems"] = dict(watcher.problems)
    return _json(body, 503 if missing else 200)


async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's serving metrics."""
    state = _state(request)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


async def http_error(request: Request, exc: Exception) -> Response:
    """Routing refusals (no such path, wrong method) in the data plane's error format."""
    status = getattr(exc, "status_code", 500)
    hint = "see GET /openapi.json for the routes and their methods"
    headers = getattr(exc, "headers", None)
    problem = {404: "no such route", 405: "method not allowed on this route"}.get(
        status, str(getattr(exc, "detail", "refused"))
    )
    return error_response(status, [FieldError("path", problem, hint)], headers)
