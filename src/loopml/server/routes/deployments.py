"""Deployments: read them, create them, change their routing (update, canary, blue-green,
shadow, promote, rollback), their traffic policy (admins) and their data-plane tokens.

The route role is the floor; `DeploymentService` still enforces the domain's rules, so an
`override_reason` from anyone but an admin is refused there (403), as in local mode.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.responses import Response

from loopml.server.ops_bodies import (
    BlueGreen,
    Canary,
    ClearPolicy,
    CreateDeployment,
    CreateDeploymentToken,
    Promote,
    Rollback,
    SetPolicy,
    Shadow,
    UpdateDeployment,
)
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("deployments")


def list_deployments(state: State) -> Response:
    return json_response({"deployments": state.client.deployments.list()})


def get_deployment(name: str, state: State) -> Response:
    return json_response(state.client.deployments.get(name))


def deployment_history(name: str, state: State) -> Response:
    return json_response({"history": state.client.deployments.history(name)})


def create_deployment(body: CreateDeployment, state: State) -> Response:
    """A new deployment sending all traffic to the version `model` names now."""
    created = state.client.deployments.create(
        body.name,
        body.model,
        sticky_key=body.sticky_key,
        config=body.config,
        unknown_categories=body.unknown_categories,
        extra_columns=body.extra_columns,
        override_reason=body.override_reason,
    )
    return json_response(created, 201)


def update_deployment(name: str, body: UpdateDeployment, state: State) -> Response:
    """Replace the routes, shadows, sticky key or input settings as one new revision."""
    routes = None if body.routes is None else [r.model_dump() for r in body.routes]
    shadows = None if body.shadows is None else [r.model_dump() for r in body.shadows]
    service = state.client.deployments
    if "sticky_key" in body.model_fields_set:
        changed = service.update(
            name,
            routes,
            shadows=shadows,
            strategy=body.strategy,
            sticky_key=body.sticky_key,
            unknown_categories=body.unknown_categories,
            extra_columns=body.extra_columns,
            reason=body.reason,
            override_reason=body.override_reason,
        )
    else:
        changed = service.update(
            name,
            routes,
            shadows=shadows,
            strategy=body.strategy,
            unknown_categories=body.unknown_categories,
            extra_columns=body.extra_columns,
            reason=body.reason,
            override_reason=body.override_reason,
        )
    return json_response(changed)


def canary(name: str, body: Canary, state: State) -> Response:
    changed = state.client.deployments.canary(
        name, body.model, body.weight, reason=body.reason, override_reason=body.override_reason
    )
    return json_response(changed)


def blue_green(name: str, body: BlueGreen, state: State) -> Response:
    """Switch all traffic at once, after a smoke test the server runs on the version."""
    changed = state.client.deployments.blue_green(
        name,
        body.model,
        smoke_test=body.smoke_test,
        reason=body.reason,
        override_reason=body.override_reason,
    )
    return json_response(changed)


def shadow(name: str, body: Shadow, state: State) -> Response:
    changed = state.client.deployments.shadow(
        name, body.model, enabled=body.enabled, override_reason=body.override_reason
    )
    return json_response(changed)


def promote(name: str, body: Promote, state: State) -> Response:
    changed = state.client.deployments.promote(
        name, body.model, reason=body.reason, override_reason=body.override_reason
    )
    return json_response(changed)


def rollback(name: str, body: Rollback, state: State) -> Response:
    changed = state.client.deployments.rollback(
        name, reason=body.reason, override_reason=body.override_reason
    )
    return json_response(changed)


def workspace_policy(state: State) -> Response:
    return json_response(state.client.deployments.policy.get())


def deployment_policy(name: str, state: State) -> Response:
    return json_response(state.client.deployments.policy.get(name))


def set_workspace_policy(body: SetPolicy, state: State) -> Response:
    return json_response(state.client.deployments.policy.set(body.policy, reason=body.reason))


def set_deployment_policy(name: str, body: SetPolicy, state: State) -> Response:
    policy = state.client.deployments.policy
    return json_response(policy.set(body.policy, deployment=name, reason=body.reason))


def clear_workspace_policy(body: ClearPolicy, state: State) -> Response:
    return json_response(state.client.deployments.policy.clear(reason=body.reason))


def clear_deployment_policy(name: str, body: ClearPolicy, state: State) -> Response:
    policy = state.client.deployments.policy
    return json_response(policy.clear(deployment=name, reason=body.reason))


def create_token(name: str, body: CreateDeploymentToken, state: State) -> Response:
    """A data-plane token for `name` (predict, feedback): its secret in this answer only."""
    token = state.client.deployments.tokens.create(
        name, body.scopes, label=body.label, expires_in_s=body.expires_in_s
    )
    return json_response(token, 201, headers={"cache-control": "no-store"})


def list_tokens(state: State, deployment: str | None = None) -> Response:
    return json_response({"tokens": state.client.deployments.tokens.list(deployment)})


def revoke_token(token_id: str, state: State) -> Response:
    return json_response(state.client.deployments.tokens.revoke(token_id))


api.route("GET", "/deployments", list_deployments, role="viewer", summary="List deployments")
api.route(
    "POST",
    "/deployments",
    create_deployment,
    role="editor",
    status_code=201,
    summary="Create a deployment",
)
api.route("GET", "/deployments/{name}", get_deployment, role="viewer", summary="One deployment")
api.route("GET", "/deployments/{name}/history", deployment_history, role="viewer")
api.route("POST", "/deployments/{name}/update", update_deployment, role="editor")
api.route("POST", "/deployments/{name}/canary", canary, role="editor", summary="Canary")
api.route("POST", "/deployments/{name}/blue-green", blue_green, role="editor")
api.route("POST", "/deployments/{name}/shadow", shadow, role="editor", summary="Shadow")
api.route("POST", "/deployments/{name}/promote", promote, role="editor", summary="Promote")
api.route("POST", "/deployments/{name}/rollback", rollback, role="editor", summary="Roll back")
api.route("GET", "/deployments/{name}/policy", deployment_policy, role="viewer")
api.route("PUT", "/deployments/{name}/policy", set_deployment_policy, role="admin")
api.route("POST", "/deployments/{name}/policy/clear", clear_deployment_policy, role="admin")
api.route("GET", "/traffic-policy", workspace_policy, role="viewer", summary="Traffic policy")
api.route("PUT", "/traffic-policy", set_workspace_policy, role="admin")
api.route("POST", "/traffic-policy/clear", clear_workspace_policy, role="admin")
api.route(
    "POST",
    "/deployments/{name}/tokens",
    create_token,
    role="editor",
    status_code=201,
    summary="Create a data-plane token",
)
api.route("GET", "/deployment-tokens", list_tokens, role="viewer", summary="Data-plane tokens")
api.route("DELETE", "/deployment-tokens/{token_id}", revoke_token, role="editor")
