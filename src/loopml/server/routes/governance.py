"""Who am I, principals and tokens (admins), and the audit trail (log and verification)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.responses import Response

from loopml.governance import list_events, verify_chain
from loopml.governance.identity import PERMISSIONS
from loopml.server.bodies import CreatePrincipal, CreateToken
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("governance")


def whoami(state: State) -> Response:
    """The principal the request's token acts as, and what its role allows."""
    principal = state.client.stores.actor
    allowed = [p for p, role in PERMISSIONS.items() if principal.at_least(role)]
    return json_response({"name": principal.name, "role": principal.role, "may": allowed})


def list_principals(state: State) -> Response:
    return json_response({"principals": state.client.models.identity.list()})


def create_principal(body: CreatePrincipal, state: State) -> Response:
    record = state.client.models.identity.create_principal(body.name, body.role)
    return json_response(record, 201)


def create_token(name: str, body: CreateToken, state: State) -> Response:
    """A new token for principal `name`: in this answer only (the store keeps its hash)."""
    identity = state.client.models.identity
    token = identity.create_token(name, label=body.label, expires_in_s=body.expires_in_s)
    token_id = identity.token_id(token)
    return json_response(
        {"token": token, "token_id": token_id, "principal": name, "label": body.label},
        201,
        headers={"cache-control": "no-store"},
    )


def revoke_token(token_id: str, state: State) -> Response:
    state.client.models.identity.revoke_token(token_id)
    return json_response({"token_id": token_id, "revoked": True})


def audit_events(
    state: State,
    object: Annotated[str | None, Query(description="e.g. model:bikes or run:3f9c2a1b")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Response:
    """The newest `limit` events, oldest first (optionally about one object)."""
    events = list_events(state.client.stores.engine, object, limit)
    return json_response({"events": events})


def audit_verify(state: State) -> Response:
    """Recompute the whole chain: any edit, insertion, deletion or truncation shows."""
    return json_response(verify_chain(state.client.stores.engine))


api.route("GET", "/auth/whoami", whoami, role="viewer", summary="Who am I")
api.route("GET", "/auth/principals", list_principals, role="admin", summary="List principals")
api.route(
    "POST",
    "/auth/principals",
    create_principal,
    role="admin",
    status_code=201,
    summary="Create a principal",
)
api.route(
    "POST",
    "/auth/principals/{name}/tokens",
    create_token,
    role="admin",
    status_code=201,
    summary="Create a token",
)
api.route("DELETE", "/auth/tokens/{token_id}", revoke_token, role="admin", summary="Revoke")
api.route("GET", "/audit/events", audit_events, role="viewer", summary="The audit log")
api.route("GET", "/audit/verify", audit_verify, role="viewer", summary="Verify the audit chain")
