"""Errors the data plane answers with, and the JSON responses they become.

Every refusal is `{"detail": [{"field", "problem", "hint"}]}` so a client can show the
same message whatever went wrong (the status code says what kind of wrong).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.responses import Response

from loopml.registry.packaging import FieldError

JSON = "application/json"


class ServingError(Exception):
    """A request the server refuses: a status code and the problems found."""

    def __init__(
        self,
        status: int,
        errors: Sequence[FieldError],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__("; ".join(f"{e.field}: {e.problem}" for e in errors))
        self.status = status
        self.errors = list(errors)
        self.headers = headers

    @classmethod
    def one(
        cls,
        status: int,
        field: str,
        problem: str,
        hint: str,
        headers: dict[str, str] | None = None,
    ) -> ServingError:
        return cls(status, [FieldError(field, problem, hint)], headers)

    def response(self) -> Response:
        return error_response(self.status, self.errors, self.headers)


def error_response(
    status: int, errors: Sequence[FieldError], headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps({"detail": [e.to_dict() for e in errors]})
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def not_served(name: str, served: Sequence[str]) -> ServingError:
    listed = ", ".join(served) if served else "none"
    return ServingError.one(
        404,
        "deployment",
        f"deployment {name!r} is not served here",
        f"served deployments: {listed} (GET /v1/deployments lists them)",
    )
