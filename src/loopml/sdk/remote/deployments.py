"""`RemoteClient.deployments`: the deployments namespace over `loopml server`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from types import EllipsisType
from typing import Any
from urllib.parse import quote

from loopml.deployments import Deployment, Route
from loopml.deployments.records import routes_from
from loopml.deployments.tokens import DeploymentToken
from loopml.governance.traffic_policy import PolicyInForce, TrafficPolicy
from loopml.sdk.remote import ops_records as records
from loopml.sdk.remote.http import RemoteHttp


def _name(name: str) -> str:
    return quote(str(name), safe="")


def _route_list(items: Sequence[Route | dict[str, Any]] | None, kind: str) -> Any:
    """Routes as the server takes them (checked here first, with local mode's messages)."""
    if items is None:
        return None
    return [
        {"model": r.model, "version": r.version, "weight": r.weight}
        for r in routes_from(items, kind)
    ]


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class RemoteTrafficPolicy:
    """`deployments.policy` over HTTP."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http

    def get(self, deployment: str | None = None) -> PolicyInForce:
        path = (
            "/traffic-policy" if deployment is None else f"/deployments/{_name(deployment)}/policy"
        )
        return records.policy_in_force(self.http.call("GET", path))

    def set(
        self,
        policy: TrafficPolicy | dict[str, Any],
        *,
        deployment: str | None = None,
        reason: str | None = None,
    ) -> PolicyInForce:
        data = policy.model_dump(mode="json") if isinstance(policy, TrafficPolicy) else policy
        path = (
            "/traffic-policy" if deployment is None else f"/deployments/{_name(deployment)}/policy"
        )
        body = _without_none({"policy": data, "reason": reason})
        return records.policy_in_force(self.http.call("PUT", path, json=body))

    def clear(self, *, deployment: str | None = None, reason: str | None = None) -> PolicyInForce:
        path = (
            "/traffic-policy/clear"
            if deployment is None
            else f"/deployments/{_name(deployment)}/policy/clear"
        )
        found = self.http.call("POST", path, json=_without_none({"reason": reason}))
        return records.policy_in_force(found)


class RemoteDeploymentTokens:
    """`deployments.tokens` over HTTP."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http

    def create(
        self,
        deployment: str,
        scopes: Sequence[str],
        *,
        label: str | None = None,
        expires_in_s: float | None = None,
    ) -> DeploymentToken:
        body = _without_none({"scopes": list(scopes), "label": label, "expires_in_s": expires_in_s})
        found = self.http.call("POST", f"/deployments/{_name(deployment)}/tokens", json=body)
        return records.deployment_token(found)

    def revoke(self, token_id: str) -> DeploymentToken:
        return records.deployment_token(
            self.http.call("DELETE", f"/deployment-tokens/{_name(token_id)}")
        )

    def list(self, deployment: str | None = None) -> builtins.list[DeploymentToken]:
        params = {} if deployment is None else {"deployment": deployment}
        found = self.http.call("GET", "/deployment-tokens", params=params)
        return [records.deployment_token(item) for item in found["tokens"]]


class RemoteDeployments:
    """`client.deployments` over HTTP: the same calls and records as `DeploymentService`."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http
        self.policy = RemoteTrafficPolicy(http)
        self.tokens = RemoteDeploymentTokens(http)

    def _change(self, name: str, action: str, body: dict[str, Any]) -> Deployment:
        path = f"/deployments/{_name(name)}/{action}"
        return records.deployment(self.http.call("POST", path, json=_without_none(body)))

    def create(
        self,
        name: str,
        model_ref: str,
        *,
        sticky_key: str | None = None,
        config: dict[str, Any] | None = None,
        unknown_categories: str | None = None,
        extra_columns: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        body = {
            "name": name,
            "model": model_ref,
            "sticky_key": sticky_key,
            "config": config,
            "unknown_categories": unknown_categories,
            "extra_columns": extra_columns,
            "override_reason": override_reason,
        }
        return records.deployment(self.http.call("POST", "/deployments", json=_without_none(body)))

    def update(
        self,
        name: str,
        routes: Sequence[Route | dict[str, Any]] | None = None,
        *,
        shadows: Sequence[Route | dict[str, Any]] | None = None,
        strategy: str | None = None,
        sticky_key: str | EllipsisType | None = ...,
        unknown_categories: str | None = None,
        extra_columns: str | None = None,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        body = _without_none(
            {
                "routes": _route_list(routes, "routes"),
                "shadows": _route_list(shadows, "shadows"),
                "strategy": strategy,
                "unknown_categories": unknown_categories,
                "extra_columns": extra_columns,
                "reason": reason,
                "override_reason": override_reason,
            }
        )
        if not isinstance(sticky_key, EllipsisType):
            body["sticky_key"] = sticky_key  # null turns sticky routing off
        path = f"/deployments/{_name(name)}/update"
        return records.deployment(self.http.call("POST", path, json=body))

    def canary(
        self,
        name: str,
        model_ref: str,
        weight: float,
        *,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        body = {
            "model": model_ref,
            "weight": weight,
            "reason": reason,
            "override_reason": override_reason,
        }
        return self._change(name, "canary", body)

    def blue_green(
        self,
        name: str,
        model_ref: str,
        *,
        smoke_test: bool = True,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        body = {
            "model": model_ref,
            "smoke_test": smoke_test,
            "reason": reason,
            "override_reason": override_reason,
        }
        return self._change(name, "blue-green", body)

    def shadow(
        self,
        name: str,
        model_ref: str,
        *,
        enabled: bool = True,
        override_reason: str | None = None,
    ) -> Deployment:
        body = {"model": model_ref, "enabled": enabled, "override_reason": override_reason}
        return self._change(name, "shadow", body)

    def promote(
        self,
        name: str,
        model_ref: str,
        *,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        body = {"model": model_ref, "reason": reason, "override_reason": override_reason}
        return self._change(name, "promote", body)

    def rollback(
        self, name: str, *, reason: str | None = None, override_reason: str | None = None
    ) -> Deployment:
        return self._change(
            name, "rollback", {"reason": reason, "override_reason": override_reason}
        )

    def get(self, name: str) -> Deployment:
        return records.deployment(self.http.call("GET", f"/deployments/{_name(name)}"))

    def list(self) -> builtins.list[Deployment]:
        found = self.http.call("GET", "/deployments")
        return [records.deployment(item) for item in found["deployments"]]

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        found: builtins.list[dict[str, Any]] = self.http.call(
            "GET", f"/deployments/{_name(name)}/history"
        )["history"]
        return found
