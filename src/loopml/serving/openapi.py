"""OpenAPI descriptions of the bodies the data plane reads by hand (with orjson).

The predict handler takes the raw request for speed, so FastAPI cannot infer its body;
these schemas document it instead.
"""

from __future__ import annotations

from typing import Any

_RECORD = {"type": "object", "additionalProperties": True, "description": "column → value"}
_RECORDS = {"type": "array", "items": _RECORD, "minItems": 1}
_ROWS = {"type": "array", "items": {"type": "array", "items": {}}, "minItems": 1}
_SPLIT = {
    "type": "object",
    "properties": {"columns": {"type": "array", "items": {"type": "string"}}, "data": _ROWS},
    "required": ["data"],
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
                        "properties": {"records": _RECORDS},
                        "required": ["records"],
                    },
                    {"title": "list of records", **_RECORDS},
                    {"title": "columnar", **_SPLIT, "required": ["columns", "data"]},
                    {
                        "title": "MLflow dataframe_split",
                        "type": "object",
                        "properties": {"dataframe_split": _SPLIT},
                        "required": ["dataframe_split"],
                    },
                    {
                        "title": "MLflow dataframe_records",
                        "type": "object",
                        "properties": {"dataframe_records": _RECORDS},
                        "required": ["dataframe_records"],
                    },
                    {
                        "title": "MLflow instances",
                        "type": "object",
                        "properties": {"instances": {"anyOf": [_RECORDS, _ROWS]}},
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
                            }
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
        "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
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
                    },
                    "required": ["predictions", "model", "request_id"],
                }
            }
        },
    },
    400: {"description": "The body is not JSON.", **_ERRORS},
    404: {"description": "The deployment is not served here.", **_ERRORS},
    413: {"description": "The body is over the size limit.", **_ERRORS},
    422: {"description": "The input does not match the model's signature.", **_ERRORS},
    503: {"description": "The deployment has no route with traffic.", **_ERRORS},
}

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
                },
                "required": ["request_id"],
            }
        }
    },
}

FEEDBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The label was handed to the feedback log."},
    404: {"description": "The deployment is not served here.", **_ERRORS},
    409: {"description": "This server runs without a prediction log.", **_ERRORS},
    422: {"description": "The body is not {request_id, label | labels}.", **_ERRORS},
}
