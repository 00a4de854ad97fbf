"""`RemoteClient.rollouts`: the rollouts namespace over `loopml server`."""

from __future__ import annotations

import builtins
from typing import Any
from urllib.parse import quote

from loopml.rollouts import Rollout, RolloutPlan, RolloutStep
from loopml.sdk.remote import ops_records as records
from loopml.sdk.remote.http import RemoteHttp


def _name(name: str) -> str:
    return quote(str(name), safe="")


class RemoteRollouts:
    """`client.rollouts` over HTTP: the same calls and records as `RolloutService`."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http

    def start(
        self,
        deployment: str,
        candidate_ref: str,
        plan: RolloutPlan | dict[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> Rollout:
        body: dict[str, Any] = {"deployment": deployment, "model": candidate_ref}
        if plan is not None:
            body["plan"] = RolloutPlan.from_dict(plan).to_dict()
        if reason is not None:
            body["reason"] = reason
        return records.rollout(self.http.call("POST", "/rollouts", json=body))

    def advance(self, deployment: str) -> RolloutStep:
        found = self.http.call("POST", f"/rollouts/{_name(deployment)}/advance", json={})
        return records.rollout_step(found)

    def abort(self, deployment: str, reason: str) -> Rollout:
        found = self.http.call(
            "POST", f"/rollouts/{_name(deployment)}/abort", json={"reason": reason}
        )
        return records.rollout(found)

    def get(self, deployment: str) -> Rollout:
        return records.rollout(self.http.call("GET", f"/rollouts/{_name(deployment)}"))

    def list(
        self, state: str | None = None, *, deployment: str | None = None
    ) -> builtins.list[Rollout]:
        params = {k: v for k, v in (("state", state), ("deployment", deployment)) if v}
        found = self.http.call("GET", "/rollouts", params=params)
        return [records.rollout(item) for item in found["rollouts"]]

    def history(self, rollout_id: str) -> builtins.list[dict[str, Any]]:
        found: builtins.list[dict[str, Any]] = self.http.call(
            "GET", f"/rollout-history/{_name(rollout_id)}"
        )["history"]
        return found
