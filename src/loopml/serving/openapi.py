"""OpenAPI descriptions of the bodies the data plane reads by hand (with orjson).

The predict handler takes the raw request for speed, so FastAPI cannot infer its body;
these schemas document it instead.
"""

from __future__ import annotations

from typing import Any

_RECORD = {"type": "object", "additionalProperties": True, "description": "column → value"}
_RECORDS = {"type": "array", "items": _RECORD, "minItems": 1}
_ROWS = {"type": "array", "items": {"type": "array", "items": {}}, "minItems": 1}
_SPLIT: dict[str, Any] = {
    "type": "object",
    "properties": {"columns": {"type": "array", "items": {"type": "string"}}, "data": _ROWS},
    "required": ["data"],
}
EVENT_TIME_DESCRIPTION = (
    "When the event the request describes happened (a replay or backfill): epoch seconds, "
    "or an ISO 8601 date-time such as 2011-07-04T17:00:00Z (UTC when it has no offset); "
    "no later than the end of tomorrow (UTC). The X-Event-Time header may carry it "
    "instead. Monitors with time_basis=event cut their windows on it."
)
_EVENT_TIME: dict[str, Any] = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "format": "date-time"}],
    "description": EVENT_TIME_DESCRIPTION,
}

PREDICT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "title": "records",
                        "type": "object",
                        "properties": {"records": _RECORDS, "event_time": _EVENT_TIME},
                        "required": ["records"],
                    },
                    {"title": "list of records", **_RECORDS},
                    {
                        "title": "columnar",
                        **_SPLIT,
                        "properties": {**_SPLIT["properties"], "event_time": _EVENT_TIME},
                        "required": ["columns", "data"],
                    },
                    {
                        "title": "MLflow dataframe_split",
                        "type": "object",
                        "properties": {"dataframe_split": _SPLIT, "event_time": _EVENT_TIME},
                        "required": ["dataframe_split"],
                    },
                    {
                        "title": "MLflow dataframe_records",
                        "type": "object",
                        "properties": {"dataframe_records": _RECORDS, "event_time": _EVENT_TIME},
                        "required": ["dataframe_records"],
                    },
                    {
                        "title": "MLflow instances",
                        "type": "object",
                        "properties": {
                            "instances": {"anyOf": [_RECORDS, _ROWS]},
                            "event_time": _EVENT_TIME,
                        },
                        "required": ["instances"],
                    },
                    {
                        "title": "MLflow inputs",
                        "type": "object",
                        "properties": {
                            "inputs": {
                                "anyOf": [
                                    {"type": "object", "additionalProperties": True},
                                    _RECORDS,
                                    _ROWS,
                                ]
                            },
                            "event_time": _EVENT_TIME,
                        },
                        "required": ["inputs"],
                    },
                ]
            },
            "examples": {
                "records": {"value": {"records": [{"temp": 21.5, "season": "summer"}]}},
                "columnar": {"value": {"columns": ["temp", "season"], "data": [[21.5, "summer"]]}},
            },
        }
    },
}

_ERRORS = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "problem": {"type": "string"},
                                "hint": {"type": "string"},
                            },
                        },
                    }
                },
            }
        }
    }
}

PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One prediction per record, from the model version named in `model`.",
        "headers": {
            "X-Request-Id": {"schema": {"type": "string"}},
            "X-Loopml-Ignored-Columns": {
                "schema": {"type": "string"},
                "description": "how many columns were dropped (extra_columns=ignore)",
            },
        },
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "predictions": {"type": "array", "items": {}},
                        "probabilities": {
                            "type": "array",
                            "items": {"type": "array", "items": {"type": "number"}},
                            "description": "class probabilities, when the model has them",
                        },
                        "model": {"type": "string", "example": "model:bikes/3"},
                        "request_id": {"type": "string"},
                        "unseen_categories": {
                            "type": "array",
                            "items": {
                                "anyOf": [
                                    {"type": "object", "additionalProperties": {"type": "string"}},
                                    {"type": "null"},
                                ]
                            },
                            "description": "with unknown_categories=flag, when some record "
                            "holds a category the training data never held: one entry per "
                            "record, {column: unseen value} or null",
                        },
                        "ignored_columns": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "with extra_columns=ignore: the columns dropped "
                            "because the model does not take them",
                        },
                    },
                    "required": ["predictions", "model", "request_id"],
                }
            }
        },
    },
    400: {"description": "The body is not JSON.", **_ERRORS},
    401: {"description": "No deployment token, or an unknown, revoked or expired one.", **_ERRORS},
    403: {"description": "The token does not allow predict on this deployment.", **_ERRORS},
    404: {"description": "The deployment is not served here.", **_ERRORS},
    408: {"description": "The body did not arrive in time.", **_ERRORS},
    413: {"description": "The body is over the size limit.", **_ERRORS},
    415: {"description": "The body is not declared as JSON.", **_ERRORS},
    422: {
        "description": "The body has no known layout or several, holds a non-finite number or "
        "an unreadable or future event time, or does not match the model's signature (an "
        "unseen category or an extra column, unless the deployment lets them through).",
        **_ERRORS,
    },
    503: {"description": "The deployment has no route with traffic.", **_ERRORS},
}

SECURITY_SCHEMES: dict[str, Any] = {
    "deploymentToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A deployment token (`loopml deploy token create NAME --scope …`).",
    }
}
BEARER: list[dict[str, list[str]]] = [{"deploymentToken": []}]

FEEDBACK_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "request_id": {"type": "string"},
                    "label": {"description": "the true outcome of a 1-record request"},
                    "labels": {"type": "array", "items": {}, "description": "one per record"},
                    "event_time": _EVENT_TIME,
                },
                "required": ["request_id"],
            }
        }
    },
}

FEEDBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The label was handed to the feedback log, as this version.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "deployment": {"type": "string"},
                        "request_id": {"type": "string"},
                        "recorded": {"type": "boolean"},
                        "version": {"type": "integer", "minimum": 1},
                    },
                    "required": ["deployment", "request_id", "recorded", "version"],
                }
            }
        },
    },
    400: {"description": "The body is not JSON.", **_ERRORS},
    401: {"description": "No deployment token, or an unknown, revoked or expired one.", **_ERRORS},
    403: {"description": "The token does not allow feedback on this deployment.", **_ERRORS},
    404: {
        "description": "The deployment is not served here, or never answered this request id.",
        **_ERRORS,
    },
    408: {"description": "The body did not arrive in time.", **_ERRORS},
    409: {
        "description": "This server runs without a prediction log, or `labels` does not have "
        "one label per row of the request.",
        **_ERRORS,
    },
    413: {"description": "The body is over the size limit.", **_ERRORS},
    415: {"description": "The body is not declared as JSON.", **_ERRORS},
    422: {
        "description": "The body is not {request_id, label | labels[, event_time]}, a label "
        "does not fit the model's output or the request's rows, or the event time is "
        "unreadable or in the future.",
        **_ERRORS,
    },
}

NOT_SERVED: dict[int | str, dict[str, Any]] = {
    404: {"description": "The deployment is not served here.", **_ERRORS},
}
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Some served deployment has no models loaded yet."},
}
METRICS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition of this process's serving metrics.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
