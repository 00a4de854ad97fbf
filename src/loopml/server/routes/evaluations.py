"""Model evaluations: score a registered version on a dataset version, with per-group
fairness for sensitive columns; the result is stored with the version (its card lists it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from loopml.server.bodies import Key
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("models")


class Evaluate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(max_length=400, description="A dataset version: bikes-summer@2, an id")
    target: Key = Field(description="The column holding the true values.")
    sensitive: list[Key] | None = Field(None, max_length=20, description="Fairness groups.")
    store: bool = Field(True, description="Keep the result with the version (audited).")


def evaluate_version(name: str, version: int, body: Evaluate, state: State) -> Response:
    """Metrics (and fairness per group of `sensitive`) of model `name` version `version`
    on `dataset`, computed on the server."""
    result = state.client.models.evaluations.evaluate(
        f"model:{name}/{version}",
        body.dataset,
        body.target,
        body.sensitive or None,
        store=body.store,
    )
    return json_response(result, 201 if body.store else 200)


api.route(
    "POST",
    "/models/{name}/versions/{version}/evaluations",
    evaluate_version,
    role="editor",
    status_code=201,
    responses={200: {"description": "Computed, not stored (store: false)"}},
    summary="Evaluate a version on a dataset",
)
