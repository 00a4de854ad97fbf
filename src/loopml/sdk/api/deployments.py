"""`client.deployments`: deployments and their routing, traffic policy and data-plane tokens.

Local: `loopml.deployments.DeploymentService`; remote: `loopml.sdk.remote.deployments`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from types import EllipsisType
from typing import Any, Protocol

from loopml.deployments import Deployment, Route
from loopml.deployments.tokens import DeploymentToken
from loopml.governance.traffic_policy import PolicyInForce, TrafficPolicy


class TrafficPolicyAPI(Protocol):
    """Which versions may take how much traffic; setting and clearing are for admins."""

    def get(self, deployment: str | None = None) -> PolicyInForce: ...

    def set(
        self,
        policy: TrafficPolicy | dict[str, Any],
        *,
        deployment: str | None = None,
        reason: str | None = None,
    ) -> PolicyInForce: ...

    def clear(
        self, *, deployment: str | None = None, reason: str | None = None
    ) -> PolicyInForce: ...


class DeploymentTokensAPI(Protocol):
    """Data-plane tokens (predict, feedback) of deployments; secrets only in `create`."""

    def create(
        self,
        deployment: str,
        scopes: Sequence[str],
        *,
        label: str | None = None,
        expires_in_s: float | None = None,
    ) -> DeploymentToken: ...

    def revoke(self, token_id: str) -> DeploymentToken: ...

    def list(self, deployment: str | None = None) -> builtins.list[DeploymentToken]: ...


class DeploymentsAPI(Protocol):
    """Create deployments and change their routing. `override_reason` (admins only) makes
    a change the traffic policy refuses, and the audit trail keeps the reason."""

    @property
    def policy(self) -> TrafficPolicyAPI: ...

    @property
    def tokens(self) -> DeploymentTokensAPI: ...

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
    ) -> Deployment: ...

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
    ) -> Deployment: ...

    def canary(
        self,
        name: str,
        model_ref: str,
        weight: float,
        *,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment: ...

    def blue_green(
        self,
        name: str,
        model_ref: str,
        *,
        smoke_test: bool = True,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment: ...

    def shadow(
        self,
        name: str,
        model_ref: str,
        *,
        enabled: bool = True,
        override_reason: str | None = None,
    ) -> Deployment: ...

    def promote(
        self,
        name: str,
        model_ref: str,
        *,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment: ...

    def rollback(
        self, name: str, *, reason: str | None = None, override_reason: str | None = None
    ) -> Deployment: ...

    def get(self, name: str) -> Deployment: ...

    def list(self) -> builtins.list[Deployment]: ...

    def history(self, name: str) -> builtins.list[dict[str, Any]]: ...
