"""`client.rollouts`: progressive rollouts of a candidate version on a deployment.

Local: `loopml.rollouts.RolloutService`; remote: `loopml.sdk.remote.rollouts`.
"""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from loopml.rollouts import Rollout, RolloutPlan, RolloutStep


class RolloutsAPI(Protocol):
    """Start, advance (one idempotent transition), abort and read rollouts."""

    def start(
        self,
        deployment: str,
        candidate_ref: str,
        plan: RolloutPlan | dict[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> Rollout: ...

    def advance(self, deployment: str) -> RolloutStep: ...

    def abort(self, deployment: str, reason: str) -> Rollout: ...

    def get(self, deployment: str) -> Rollout: ...

    def list(
        self, state: str | None = None, *, deployment: str | None = None
    ) -> builtins.list[Rollout]: ...

    def history(self, rollout_id: str) -> builtins.list[dict[str, Any]]: ...
