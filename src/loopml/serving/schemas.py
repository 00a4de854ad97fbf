"""The OpenAPI document as the served deployments really are.

The generic routes (`/v1/deployments/{name}/…`) accept every layout, so their schemas are
loose; this module adds, for each served deployment, the exact request it accepts: the
`records` layout with its signature's columns (all required, typed, categories listed
unless the deployment accepts unseen ones, nothing else unless it ignores extra columns),
and its feedback with the labels its model admits. Both may carry an event time, given
here as epoch seconds up to the end of tomorrow (UTC) — the limit the server applies
through the same day — and ISO 8601 text is accepted too, as the description says. The
document is built per request from the route tables, so it follows hot swaps and policy
changes.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from loopml.deployments import InputPolicy
from loopml.registry.packaging import ColumnSpec, Signature
from loopml.serving.event_time import latest_event_time
from loopml.serving.feedback import LabelRule
from loopml.serving.openapi import (
    BEARER,
    EVENT_TIME_DESCRIPTION,
    FEEDBACK_RESPONSES,
    PREDICT_RESPONSES,
    SECURITY_SCHEMES,
)
from loopml.serving.routing import RouteTable
from loopml.serving.state import ServingState
from loopml.serving.validation import FLOAT32_MAX, INT64_MAX, INT64_MIN, STRICT

DOUBLE_MAX = 1.7976931348623157e308
_TYPES: dict[str, dict[str, Any]] = {
    "float": {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX},
    "integer": {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "category": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
}
_PREDICT_PATH = "/v1/deployments/{name}/predict"
_FEEDBACK_PATH = "/v1/deployments/{name}/feedback"


def column_schema(spec: ColumnSpec, policy: InputPolicy = STRICT) -> dict[str, Any]:
    schema = dict(_TYPES[spec.type])
    if spec.categories is not None:
        if policy.unknown_categories == "error":
            schema = {"type": "string", "enum": list(spec.categories)}
        else:
            what = "accepted" if policy.unknown_categories == "accept" else "scored and flagged"
            schema = {
                "type": "string",
                "description": f"seen in training: {', '.join(spec.categories)}; other values "
                f"are {what}",
            }
    if spec.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def event_time_schema(now: float | None = None) -> dict[str, Any]:
    """Epoch seconds from 1970 up to the end of the UTC day after `now`'s."""
    return {
        "type": "number",
        "minimum": 0,
        "maximum": latest_event_time(time.time() if now is None else now),
        "description": EVENT_TIME_DESCRIPTION,
    }


def records_schema(signature: Signature, policy: InputPolicy = STRICT) -> dict[str, Any]:
    """`{"records": [{column: value}, …]}` with the signature's columns (and any other when
    the deployment ignores extra columns), and the optional event time."""
    record = {
        "type": "object",
        "properties": {spec.name: column_schema(spec, policy) for spec in signature.inputs},
        "required": signature.input_names,
        "additionalProperties": policy.extra_columns == "ignore",
    }
    return {
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": record, "minItems": 1},
            "event_time": event_time_schema(),
        },
        "required": ["records"],
        "additionalProperties": False,
    }


def label_schema(rule: LabelRule) -> dict[str, Any]:
    if rule.kind == "number":
        return {"type": "number", "minimum": -DOUBLE_MAX, "maximum": DOUBLE_MAX}
    if rule.kind == "class":
        return {"enum": list(rule.classes)}
    return {"type": ["string", "number", "boolean"]}


def feedback_schema(rule: LabelRule) -> dict[str, Any]:
    label = label_schema(rule)
    request_id = {"type": "string", "minLength": 1}
    event_time = event_time_schema()
    one = {
        "type": "object",
        "properties": {"request_id": request_id, "label": label, "event_time": event_time},
        "required": ["request_id", "label"],
        "additionalProperties": False,
    }
    per_row = {
        "type": "object",
        "properties": {
            "request_id": request_id,
            "labels": {"type": "array", "items": label, "minItems": 1},
            "event_time": event_time,
        },
        "required": ["request_id", "labels"],
        "additionalProperties": False,
    }
    return {"oneOf": [one, per_row]}


def _shared(table: RouteTable) -> tuple[Signature, LabelRule] | None:
    """The signature and label rule every route of the deployment shares (else None: a
    body valid for one version could be refused by another)."""
    targets = table.targets
    if not targets:
        return None
    models = [t.runner.model for t in targets]
    signature = models[0].signature
    if signature is None or any(m.signature != signature for m in models[1:]):
        return None
    rules = {LabelRule.of(m) for m in models}
    return (signature, rules.pop()) if len(rules) == 1 else None


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def build_openapi(app: FastAPI, state: ServingState) -> dict[str, Any]:
    """The document of `app`, with a request schema for each deployment served now."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    paths: dict[str, Any] = document["paths"]
    for operations in paths.values():  # FastAPI's path-parameter 422: never answered
        for operation in operations.values():
            schema = operation.get("responses", {}).get("422", {}).get("content", {})
            if "$ref" in str(schema):
                del operation["responses"]["422"]
    components = document.setdefault("components", {})
    components.pop("schemas", None)  # FastAPI's validation-error models: never answered
    security = state.auth.required
    if security:
        components["securitySchemes"] = SECURITY_SCHEMES
        for path in (_PREDICT_PATH, _FEEDBACK_PATH, "/invocations"):
            paths[path]["post"]["security"] = BEARER
    if not components:
        del document["components"]
    tables = state.watcher.tables
    served = sorted(tables)
    if served:
        for path in (_PREDICT_PATH, _FEEDBACK_PATH):
            for parameter in paths[path]["post"]["parameters"]:
                if parameter["name"] == "name":  # the generic route: any other deployment
                    parameter["schema"] = {"type": "string", "not": {"enum": served}}
    known: dict[str, dict[str, Any]] = {}
    for name in served:
        shared = _shared(tables[name])
        if shared is None:
            continue
        signature, rule = shared
        known[name] = records_schema(signature, tables[name].inputs)
        paths[f"/v1/deployments/{name}/predict"] = {
            "post": {
                "tags": ["predict"],
                "summary": f"Score records with {name}",
                "operationId": f"predict_{name}",
                "requestBody": _body(known[name]),
                "responses": PREDICT_RESPONSES,
                **({"security": BEARER} if security else {}),
            }
        }
        paths[f"/v1/deployments/{name}/feedback"] = {
            "post": {
                "tags": ["predict"],
                "summary": f"Record true labels of {name}'s answers",
                "operationId": f"feedback_{name}",
                "requestBody": _body(feedback_schema(rule)),
                "responses": FEEDBACK_RESPONSES,
                **({"security": BEARER} if security else {}),
            }
        }
    invocations = paths.get("/invocations")
    if invocations is not None:
        if len(served) == 1 and served[0] in known:
            invocations["post"]["requestBody"] = _body(known[served[0]])
        else:  # ambiguous or unknown body: MLflow clients talk to one-deployment servers
            del paths["/invocations"]
    return document
