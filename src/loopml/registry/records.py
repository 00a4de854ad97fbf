"""Read-only views of registered models, versions and approval requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATES = ("REGISTERED", "DEPRECATED", "ARCHIVED")
REQUEST_STATES = ("PENDING", "APPROVED", "REJECTED")


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str | None
    protected_aliases: list[str]
    policy: dict[str, Any] | None
    created_by: str
    created_at: float
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None

    @property
    def uri(self) -> str:
        return f"model:{self.name}"


@dataclass(frozen=True)
class ModelVersion:
    """An immutable version of a registered model, linked to the run that made it."""

    id: str
    model: str
    version: int
    run_id: str | None
    artifact_path: str
    manifest_digest: str
    flavor: str
    signature: dict[str, Any] | None
    metrics: dict[str, float]
    state: str
    description: str | None
    card: dict[str, Any]
    created_by: str
    created_at: float
    aliases: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"model:{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "uri": self.uri}


@dataclass(frozen=True)
class Decision:
    principal: str
    decision: str
    comment: str | None
    decided_at: float


@dataclass(frozen=True)
class ApprovalRequest:
    """A requested alias move, the checks run on it and the decisions taken."""

    id: str
    model: str
    alias: str
    version: int
    previous_version: int | None
    requester: str
    status: str
    policy: dict[str, Any]
    checks: list[dict[str, Any]]
    reason: str | None
    created_at: float
    decided_at: float | None
    outcome: str | None = None
    decisions: list[Decision] = field(default_factory=list)

    @property
    def approvals(self) -> int:
        return sum(1 for d in self.decisions if d.decision == "APPROVE")

    @property
    def checks_passed(self) -> bool:
        return all(c.get("passed") for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
