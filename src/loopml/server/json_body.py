"""JSON bodies read and validated in one pass, for the routes every remote run calls.

FastAPI reads a model body in three steps on the event loop — `orjson.loads` (see
routing.py), then pydantic's validation of the Python objects, then the dependency
machinery around both — which is a good part of the CPU a small request costs. A hot
route instead takes the `Request` and calls `read_body`: pydantic parses and validates
the bytes in one pass (`model_validate_json`). What the caller sees is unchanged: the
same content-type rule, a body that does not parse is the same `RequestValidationError`
of type `json_invalid` (400), one that does not fit the model the same errors located
under `body` (422). `body_schema` describes the body in the OpenAPI document, and
`add_body_schemas` puts the models it names under `components/schemas`.
"""

from __future__ import annotations

from email.message import Message
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

M = TypeVar("M", bound=BaseModel)
COMPONENTS = "#/components/schemas/{model}"

# The models whose schemas `add_body_schemas` adds to the document (named by `body_schema`).
_DESCRIBED: dict[str, type[BaseModel]] = {}


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that reads `model` with `read_body`."""
    _DESCRIBED[model.__name__] = model
    reference = {"$ref": COMPONENTS.format(model=model.__name__)}
    return {"required": True, "content": {"application/json": {"schema": reference}}}


def add_body_schemas(document: dict[str, Any]) -> None:
    """Add the schemas of the models `body_schema` named (and of the models they hold)
    to an OpenAPI document; schemas FastAPI wrote already are kept as they are."""
    if not _DESCRIBED:
        return
    _, top = models_json_schema(
        [(model, "validation") for model in _DESCRIBED.values()], ref_template=COMPONENTS
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        schemas.setdefault(name, schema)


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule (strict content type): the body is JSON only under a JSON type."""
    if content_type == "application/json":  # what the SDK sends
        return True
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def read_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model` (see the module docstring)."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if not _is_json(request.headers.get("content-type")):
        raise RequestValidationError(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ("body",),
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": raw,
                }
            ]
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None
