"""The registry: models, versions (registered from a run's artifact), aliases, approvals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from starlette.responses import Response

from loopml.server.bodies import (
    Decision,
    RegisterVersion,
    RequestChange,
    SetAlias,
    SetState,
)
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state
from loopml.validation import MAX_NAME_LEN, NAME_PATTERN

State = Annotated[ServerState, Depends(server_state)]
ModelName = Annotated[
    str, Path(json_schema_extra={"pattern": NAME_PATTERN, "maxLength": MAX_NAME_LEN})
]
Alias = Annotated[str, Path(json_schema_extra={"pattern": r"^[A-Za-z0-9_\-]{1,64}$"})]
Status = Literal["PENDING", "APPROVED", "REJECTED"]
MaxResults = Annotated[int, Query(ge=1, le=50_000)]
api = Api("models")


def list_models(state: State) -> Response:
    return json_response({"models": state.client.models.list()})


def get_model(name: ModelName, state: State) -> Response:
    return json_response(state.client.models.model(name))


def list_versions(
    name: ModelName, state: State, max_results: MaxResults = 1000, page_token: str | None = None
) -> Response:
    """The versions of a model (404 for an unknown model), a page at a time."""
    found = state.client.models.versions(name, max_results=max_results, page_token=page_token)
    return json_response({"versions": list(found), "next_page_token": found.next_page_token})


def resolve_version(ref: str, state: State) -> Response:
    """A version by any reference: `bikes@champion`, `model:bikes/3`, `bikes`, an id."""
    return json_response(state.client.models.get(ref))


def get_policy(name: ModelName, state: State) -> Response:
    return json_response(state.client.models.policy(name).model_dump(mode="json"))


def set_policy(name: ModelName, body: dict[str, Any], state: State) -> Response:
    """Replace the approval policy; every problem of the document is named."""
    found = state.client.models.set_policy(name, body)
    return json_response(found.model_dump(mode="json"))


def register_version(name: ModelName, body: RegisterVersion, state: State) -> Response:
    """The model a run logged at `artifact_path`, as the next version of `name`."""
    client = state.client
    run_id = client.tracking.resolve_run_id(body.run_id)
    version = client.models.registry.register_version(
        name, run_id, body.artifact_path, description=body.description, card=body.card
    )
    return json_response(version, 201)


def get_version(name: ModelName, version: int, state: State) -> Response:
    return json_response(state.client.models.get(f"{name}/{version}"))


def set_state(name: ModelName, version: int, body: SetState, state: State) -> Response:
    """Move a version to REGISTERED, DEPRECATED or ARCHIVED."""
    wanted = body.state.strip().upper()
    return json_response(state.client.models.set_state(f"{name}/{version}", wanted))


def version_lineage(name: ModelName, version: int, state: State) -> Response:
    """The version's chain: model ← run ← datasets ← their parents."""
    return json_response(state.client.models.lineage(f"{name}/{version}"))


def version_card(
    name: ModelName,
    version: int,
    state: State,
    format: Annotated[Literal["json", "markdown", "html"], Query()] = "json",
) -> Response:
    """The model card, as data or rendered (Markdown, or one self-contained HTML page)."""
    models = state.client.models
    ref = f"{name}/{version}"
    if format == "markdown":
        return Response(models.card_markdown(ref), media_type="text/markdown; charset=utf-8")
    if format == "html":
        return Response(models.card_html(ref), media_type="text/html; charset=utf-8")
    return json_response(models.card(ref))


def set_alias(name: ModelName, alias: Alias, body: SetAlias, state: State) -> Response:
    """Point an unprotected alias at a version (protected ones move through approvals)."""
    return json_response(state.client.models.set_alias(name, alias, body.version))


def delete_alias(name: ModelName, alias: Alias, state: State) -> Response:
    state.client.models.delete_alias(name, alias)
    return json_response({"model": name, "alias": alias, "deleted": True})


def list_approvals(
    state: State,
    model: str | None = None,
    status: Annotated[Status | None, Query(description="PENDING, APPROVED or REJECTED")] = None,
    alias: str | None = None,
    max_results: MaxResults = 1000,
    page_token: str | None = None,
) -> Response:
    found = state.client.approvals.list(
        model, status=status, alias=alias, max_results=max_results, page_token=page_token
    )
    return json_response({"requests": list(found), "next_page_token": found.next_page_token})


def request_change(body: RequestChange, state: State) -> Response:
    """Ask for a protected alias to point at a version; its checks run at once."""
    found = state.client.approvals.request(body.model, body.alias, body.reason)
    return json_response(found, 201)


def get_approval(request_id: str, state: State) -> Response:
    return json_response(state.client.approvals.get(request_id))


def approve(request_id: str, body: Decision, state: State) -> Response:
    """An approver's yes (never on their own request: four eyes)."""
    return json_response(state.client.approvals.approve(request_id, body.comment))


def reject(request_id: str, body: Decision, state: State) -> Response:
    return json_response(state.client.approvals.reject(request_id, body.comment))


def cancel(request_id: str, state: State) -> Response:
    """Withdraw a pending request (its requester or an admin)."""
    return json_response(state.client.approvals.cancel(request_id))


api.route("GET", "/models", list_models, role="viewer", summary="List models")
api.route("GET", "/models/{name}", get_model, role="viewer", summary="One model")
api.route("GET", "/models/{name}/versions", list_versions, role="viewer")
api.route(
    "POST",
    "/models/{name}/versions",
    register_version,
    role="editor",
    status_code=201,
    summary="Register a version from a run's artifact",
)
api.route("GET", "/models/{name}/versions/{version}", get_version, role="viewer")
api.route(
    "PUT",
    "/models/{name}/versions/{version}/state",
    set_state,
    role="editor",
    summary="Change a version's lifecycle state",
)
api.route("GET", "/models/{name}/policy", get_policy, role="viewer", summary="Approval policy")
api.route("PUT", "/models/{name}/policy", set_policy, role="admin", summary="Set the policy")
api.route(
    "GET",
    "/model-versions/{ref:path}",
    resolve_version,
    role="viewer",
    summary="A version by any reference",
)
api.route("GET", "/models/{name}/versions/{version}/lineage", version_lineage, role="viewer")
api.route(
    "GET",
    "/models/{name}/versions/{version}/card",
    version_card,
    role="viewer",
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
api.route("PUT", "/models/{name}/aliases/{alias}", set_alias, role="editor", summary="Set alias")
api.route("DELETE", "/models/{name}/aliases/{alias}", delete_alias, role="editor")
api.route("GET", "/approvals", list_approvals, role="viewer", summary="List approval requests")
api.route(
    "POST",
    "/approvals",
    request_change,
    role="editor",
    status_code=201,
    summary="Request an alias change",
)
api.route("GET", "/approvals/{request_id}", get_approval, role="viewer")
api.route("POST", "/approvals/{request_id}/approve", approve, role="approver", summary="Approve")
api.route("POST", "/approvals/{request_id}/reject", reject, role="approver", summary="Reject")
api.route("POST", "/approvals/{request_id}/cancel", cancel, role="editor", summary="Withdraw")
