"""The data plane's routes; each reads `request.app.state.serving`, nothing global."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from loopml.serving import predict as predict_path
from loopml.serving.errors import JSON, ServingError, not_served
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
    """Record the true label of an earlier prediction, joined later on its request id."""
    state = _state(request)
    try:
        if name not in state.watcher.tables:
            raise not_served(name, sorted(state.watcher.tables))
        state.auth.check(request.headers.get("authorization"), name, "feedback")
        if state.predictions is None:
            raise ServingError.one(
                409,
                "server",
                "this server runs without a prediction log",
                "start it without --no-log to collect feedback",
            )
        body = await predict_path.read_body(request, state.max_body_bytes)
        request_id, label = _feedback_of(decode_json(body))
        state.predictions.record_feedback(name, request_id, label)
    except ServingError as exc:
        state.metrics.error(name if name in state.watcher.tables else "unknown", exc.status)
        return exc.response()
    except ClientDisconnect:
        return Response(status_code=predict_path.CLIENT_CLOSED)
    return _json({"deployment": name, "request_id": request_id, "recorded": True})


def _feedback_of(data: Any) -> tuple[str, Any]:
    hint = 'send {"request_id": "...", "label": ...} or {"request_id": "...", "labels": [...]}'
    if not isinstance(data, dict):
        raise ServingError.one(422, "body", "expected a JSON object", hint)
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise ServingError.one(422, "request_id", "missing or not a string", hint)
    if ("label" in data) == ("labels" in data):
        raise ServingError.one(422, "label", "send exactly one of label and labels", hint)
    if "labels" in data:
        if not isinstance(data["labels"], list) or not data["labels"]:
            raise ServingError.one(422, "labels", "expected a non-empty list", hint)
        return request_id, data["labels"]
    return request_id, data["label"]


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
    """The process is up (liveness)."""
    return _json({"status": "ok"})


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
