"""Who am I, principals and tokens (admins), and the audit trail (log and verification)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from starlette.responses import Response

from loopml.errors import NotFoundError
from loopml.governance import list_events
from loopml.governance.identity import PERMISSIONS
from loopml.server.bodies import CreatePrincipal, CreateToken
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("governance")


def whoami(state: State) -> Response:
    """The principal the request's token acts as, and what its role allows."""
    principal = state.client.auth.whoami()
    allowed = [p for p, role in PERMISSIONS.items() if principal.at_least(role)]
    return json_response({"name": principal.name, "role": principal.role, "may": allowed})


def list_principals(state: State) -> Response:
    return json_response({"principals": state.client.auth.principals()})


def get_principal(name: str, state: State) -> Response:
    return json_response(state.client.auth.get_principal(name))


def create_principal(body: CreatePrincipal, state: State) -> Response:
    record = state.client.auth.create_principal(body.name, body.role)
    return json_response(record, 201)


def create_token(name: str, body: CreateToken, state: State) -> Response:
    """A new token for principal `name`: in this answer only (the store keeps its hash)."""
    issued = state.client.auth.create_token(name, label=body.label, expires_in_s=body.expires_in_s)
    return json_response(issued, 201, headers={"cache-control": "no-store"})


def revoke_token(token_id: str, state: State) -> Response:
    state.client.auth.revoke_token(token_id)
    state.sessions.forget_all()
    return json_response({"token_id": token_id, "revoked": True})


def audit_events(
    state: State,
    object: Annotated[str | None, Query(description="e.g. model:bikes or run:3f9c2a1b")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    max_results: Annotated[
        int | None, Query(ge=1, le=10_000, description="page size (with page_token)")
    ] = None,
    page_token: str | None = None,
    newest_first: bool = True,
) -> Response:
    """Without paging: the newest `limit` events, oldest first. With `max_results` or
    `page_token`: one page in the order `newest_first` says, and the next page's token."""
    if max_results is None and page_token is None:
        events = list_events(state.client.stores.engine, object, limit)
        return json_response({"events": events})
    found = state.client.audit.events(
        object,
        newest_first=newest_first,
        max_results=max_results or limit,
        page_token=page_token,
    )
    return json_response({"events": list(found), "next_page_token": found.next_page_token})


def audit_event(seq: Annotated[int, Path(ge=1, le=2**62)], state: State) -> Response:
    """One event as stored now (to show what a failed verification points at)."""
    found = state.client.audit.event(seq)
    if found is None:
        raise NotFoundError(f"no audit event {seq}; `loopml audit log` lists them")
    return json_response(found)


def audit_verify(state: State) -> Response:
    """Recompute the whole chain: any edit, insertion, deletion or truncation shows."""
    return json_response(state.client.audit.verify())


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
api.route("GET", "/auth/principals/{name}", get_principal, role="admin", summary="A principal")
api.route("DELETE", "/auth/tokens/{token_id}", revoke_token, role="admin", summary="Revoke")
api.route("GET", "/audit/events", audit_events, role="viewer", summary="The audit log")
api.route("GET", "/audit/events/{seq}", audit_event, role="viewer", summary="One event")
api.route("GET", "/audit/verify", audit_verify, role="viewer", summary="Verify the audit chain")
