"""The controller's `RolloutDriver` over `loopml.rollouts.RolloutService`.

A trigger event's rollout is started with a reason that names the event, so a controller
that crashed between starting it and recording the start recognises it on the retry and
does not start a second one.
"""

from __future__ import annotations

from typing import Any

from loopml.controller.outcomes import summarize
from loopml.controller.ports import RolloutChange
from loopml.rollouts import Rollout, RolloutService


class RolloutServiceDriver:
    """Starts and advances rollouts through the workspace's `RolloutService`."""

    def __init__(self, service: RolloutService) -> None:
        self.service = service

    def ensure_started(
        self, deployment: str, candidate: str, plan: dict[str, Any], *, key: str
    ) -> dict[str, Any]:
        marker = start_reason(key)
        for rollout in self.service.list(deployment=deployment):
            if marker in rollout.reasons:
                return _snapshot(rollout)  # started before a crash: not again
        return _snapshot(self.service.start(deployment, candidate, plan, reason=marker))

    def active(self, now: float) -> list[str]:
        return list(dict.fromkeys(r.deployment for r in self.service.due()))

    def advance(self, deployment: str, now: float) -> RolloutChange:
        step = self.service.advance(deployment, now=now)
        rollout = step.rollout
        details = {
            "action": step.action,
            "rollout": rollout.id,
            "candidate": rollout.candidate,
            "step": rollout.step,
            "waiting_for": list(step.waiting_for),
        }
        return RolloutChange(deployment, step.changed, rollout.state, details)


def start_reason(key: str) -> str:
    """The reason a trigger event's rollout is started with: how a retry recognises it."""
    return f"started by trigger event {key}"


def _snapshot(rollout: Rollout) -> dict[str, Any]:
    summary: dict[str, Any] = summarize(rollout.to_dict())
    return summary
