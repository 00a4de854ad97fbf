"""Read-only views of rollouts: the stored row, one `advance` outcome, a history entry.

States: `running` (a step is live) → `awaiting_approval` (every step passed; the champion
alias waits for its approval request) → `promoted`. From `running` or `awaiting_approval`:
`rolled_back` (an SLO failed, a step timed out, the approval was rejected) or `aborted` (by
hand, or because someone changed the deployment's routing outside the rollout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.deployments.records import Route, parse_route
from loopml.rollouts.analysis import StepAnalysis
from loopml.rollouts.plan import RolloutPlan

RUNNING = "running"
AWAITING_APPROVAL = "awaiting_approval"
PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"
ABORTED = "aborted"
ACTIVE = (RUNNING, AWAITING_APPROVAL)
FINISHED = (PROMOTED, ROLLED_BACK, ABORTED)
STATES = ACTIVE + FINISHED


@dataclass(frozen=True)
class Target:
    """The routing a rollout state asks of the deployment; `shadows` are mirrored routes it
    adds (the stable at a 100 % step, so its quality is measured on the same requests)."""

    routes: list[Route]
    strategy: str
    shadows: list[Route] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "routes": [r.to_dict() for r in self.routes],
            "strategy": self.strategy,
            "shadows": [r.to_dict() for r in self.shadows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        shadows = [Route.from_dict(r) for r in data.get("shadows") or []]
        return cls([Route.from_dict(r) for r in data["routes"]], data["strategy"], shadows)

    def matches(self, routes: list[Route], strategy: str) -> bool:
        """Whether a deployment already routes like this (weights to within 1e-6 %)."""
        if strategy != self.strategy or len(routes) != len(self.routes):
            return False
        wanted = {r.key: r.weight for r in self.routes}
        return all(abs(wanted.get(r.key, -1.0) - r.weight) < 1e-6 for r in routes)

    def mirrored_by(self, shadows: list[Route]) -> bool:
        """Whether every shadow this target asks for is live among `shadows`."""
        live = {r.key: r.weight for r in shadows}
        return all(abs(live.get(r.key, -1.0) - r.weight) < 1e-6 for r in self.shadows)


@dataclass(frozen=True)
class Rollout:
    """A progressive rollout of `candidate` on a deployment, replacing `stable`."""

    id: str
    deployment: str
    candidate: str  # model:NAME/VERSION
    stable: str
    plan: RolloutPlan
    state: str
    step: int  # index into plan.steps
    step_started_at: float | None  # None until the step's routing is live
    target: Target
    applied: bool
    approval_id: str | None
    reasons: list[str]
    revision: int
    created_by: str
    created_at: float
    updated_at: float
    finished_at: float | None

    @property
    def uri(self) -> str:
        return f"rollout:{self.id}"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def weight(self) -> float:
        """The candidate's share of traffic the current step asks for."""
        return self.plan.steps[self.step]

    @property
    def candidate_route(self) -> Route:
        return parse_route(self.candidate)

    @property
    def stable_route(self) -> Route:
        return parse_route(self.stable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "deployment": self.deployment,
            "candidate": self.candidate,
            "stable": self.stable,
            "plan": self.plan.to_dict(),
            "state": self.state,
            "step": self.step,
            "steps": len(self.plan.steps),
            "weight": self.weight,
            "step_started_at": self.step_started_at,
            "target": self.target.to_dict(),
            "applied": self.applied,
            "approval_id": self.approval_id,
            "reasons": list(self.reasons),
            "revision": self.revision,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }


@dataclass(frozen=True)
class RolloutStep:
    """What one `advance` did: `action` is `wait` (nothing changed; `waiting_for` says why),
    `step`, `promote`, `rollback`, `abort`, `repair` (a recorded change was applied to the
    deployment after a crash) or `none` (the rollout is finished)."""

    rollout: Rollout
    action: str
    waiting_for: list[str] = field(default_factory=list)
    analysis: StepAnalysis | None = None

    @property
    def changed(self) -> bool:
        return self.action not in ("wait", "none")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "waiting_for": list(self.waiting_for),
            "analysis": None if self.analysis is None else self.analysis.to_dict(),
            "rollout": self.rollout.to_dict(),
        }


def rollout_from_row(row: Any) -> Rollout:
    return rollout_from_mapping(row._mapping)


def rollout_from_mapping(m: Any) -> Rollout:
    """A Rollout from a row's mapping (or the dict of values a row is inserted with)."""
    return Rollout(
        id=m["id"],
        deployment=m["deployment"],
        candidate=m["candidate"],
        stable=m["stable"],
        plan=RolloutPlan.from_dict(m["plan"]),
        state=m["state"],
        step=int(m["step"]),
        step_started_at=m["step_started_at"],
        target=Target.from_dict(m["target"]),
        applied=bool(m["applied"]),
        approval_id=m["approval_id"],
        reasons=list(m["reasons"] or []),
        revision=int(m["revision"]),
        created_by=m["created_by"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        finished_at=m["finished_at"],
    )
