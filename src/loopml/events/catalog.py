"""The events loopml publishes, and how each is read off the audit trail.

Every mutation appends its audit event in the same transaction as the change, so the trail
is a durable outbox already: an event exists exactly when its change committed. This module
names the audit actions subscribers care about and turns one audit event into the public
event document (`Event`), the same for every subscriber and every format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopml.errors import ValidationError
from loopml.governance.audit import AuditEvent

#: audit action -> published event type
ACTIONS: dict[str, str] = {
    "model.register": "version.registered",
    "approval.request": "approval.requested",
    "approval.approved": "approval.decided",
    "approval.rejected": "approval.decided",
    "alias.move": "alias.moved",
    "alias.delete": "alias.deleted",
    "rollout.start": "rollout.started",
    "rollout.step": "rollout.step_passed",
    "rollout.promote": "rollout.promoted",
    "rollout.rollback": "rollout.rolled_back",
    "rollout.abort": "rollout.aborted",
    "alert.open": "alert.opened",
    "alert.resolve": "alert.resolved",
    "trigger.fire": "trigger.fired",
    "model.replay": "replay.evaluated",
}
EVENT_TYPES: tuple[str, ...] = tuple(sorted(set(ACTIONS.values())))
GROUPS: tuple[str, ...] = tuple(sorted({t.split(".")[0] for t in EVENT_TYPES}))


@dataclass(frozen=True)
class Event:
    """One published event: `id` is stable (`evt-<audit seq>`), so receivers can dedupe."""

    seq: int
    type: str
    time: float
    actor: str
    object: str
    details: dict[str, Any]

    @property
    def id(self) -> str:
        return f"evt-{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "time": self.time,
            "actor": self.actor,
            "object": self.object,
            "details": self.details,
            "audit_seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            seq=int(data["audit_seq"]),
            type=str(data["type"]),
            time=float(data["time"]),
            actor=str(data["actor"]),
            object=str(data["object"]),
            details=dict(data.get("details") or {}),
        )


def event_of(audit: AuditEvent) -> Event | None:
    """The published event an audit event stands for, None when it publishes nothing."""
    kind = ACTIONS.get(audit.action)
    if kind is None:
        return None
    details = dict(audit.details) if isinstance(audit.details, dict) else {"value": audit.details}
    if kind == "approval.decided":
        details.setdefault("decision", audit.action.split(".", 1)[1])
    return Event(audit.seq, kind, audit.time, audit.actor, audit.object, details)


def check_patterns(patterns: list[str] | tuple[str, ...] | None) -> list[str]:
    """Validated subscription patterns: an event type, `group.*`, or `*` (the default)."""
    if patterns is None or len(patterns) == 0:
        return ["*"]
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    out: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValidationError(f"an event pattern must be a string, got {pattern!r}")
        group = pattern.removesuffix(".*")
        if pattern == "*" or pattern in EVENT_TYPES or (pattern.endswith(".*") and group in GROUPS):
            if pattern not in out:
                out.append(pattern)
            continue
        raise ValidationError(
            f"unknown event {pattern!r}: use one of {', '.join(EVENT_TYPES)}, a group such as "
            f"{GROUPS[0]}.* ({', '.join(GROUPS)}), or * for every event"
        )
    return out


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether a subscription with `patterns` wants events of `event_type`."""
    group = event_type.split(".", 1)[0]
    return any(p == "*" or p == event_type or p == f"{group}.*" for p in patterns)
