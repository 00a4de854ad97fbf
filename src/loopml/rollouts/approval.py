"""Promotion through the approval rules: the `champion` alias of the candidate's model moves
only as its policy allows, so a rollout ends with the registry's approval workflow.

An approval request for champion → candidate that already exists (e.g. opened by a
pipeline's validation gate, or by this rollout before a crash) is used; otherwise one is
opened, which runs the policy's checks and approves at once under `auto_approve`. A model
whose champion alias is not protected has no approval rules: the alias is set directly.

A rollout that rolls back calls its candidate off: the pending champion request for it is
closed with the rollback's reason, and `challenger` no longer points at it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from loopml.deployments.records import Route
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.registry import ApprovalRequest, ApprovalService, RegistryService

CHAMPION = "champion"
CHALLENGER = "challenger"
APPROVED = "approved"
PENDING = "pending"
REJECTED = "rejected"


@dataclass(frozen=True)
class Approval:
    """Where the champion move stands: approved, pending or rejected, and why."""

    status: str
    request_id: str | None
    message: str


def seek_approval(
    registry: RegistryService,
    approvals: ApprovalService,
    candidate: Route,
    *,
    request_id: str | None,
    since: float,
    reason: str,
) -> Approval:
    """The champion move for `candidate`: look it up (`request_id`, else a pending request,
    else one opened at or after `since`), or ask for it."""
    model = registry.get_model(candidate.model)
    if model.aliases.get(CHAMPION) == candidate.version:
        return Approval(APPROVED, request_id, f"{CHAMPION} points at {candidate.uri}")
    if request_id is not None:
        return _status(approvals.get(request_id), candidate)
    if CHAMPION not in model.protected_aliases:
        registry.set_alias(model.name, CHAMPION, candidate.version)
        return Approval(APPROVED, None, f"{CHAMPION} is not protected: moved to {candidate.uri}")
    found = _existing(approvals, candidate, since)
    if found is None:
        try:
            found = approvals.request(candidate.uri, alias=CHAMPION, reason=reason)
        except ConflictError as exc:  # raced with another controller, or another request
            found = _existing(approvals, candidate, since)
            if found is None:
                if registry.get_model(model.name).aliases.get(CHAMPION) == candidate.version:
                    return Approval(APPROVED, None, f"{CHAMPION} points at {candidate.uri}")
                return Approval(PENDING, None, f"cannot ask for the {CHAMPION} move yet: {exc}")
        except ValidationError as exc:  # e.g. the candidate is no longer REGISTERED
            return Approval(REJECTED, None, f"the {CHAMPION} move cannot be requested: {exc}")
    return _status(found, candidate)


def _existing(approvals: ApprovalService, candidate: Route, since: float) -> ApprovalRequest | None:
    """The newest request for champion → candidate that is pending or opened since `since`."""
    newest = approvals.list(
        candidate.model, alias=CHAMPION, version=candidate.version, newest_first=True
    )
    found = [r for r in newest if r.status == "PENDING" or r.created_at >= since]
    return found[0] if found else None


def _status(request: ApprovalRequest, candidate: Route) -> Approval:
    where = f"approval request {request.id} ({CHAMPION} → {candidate.uri})"
    if request.status == "APPROVED":
        return Approval(APPROVED, request.id, f"{where} was approved")
    if request.status == "PENDING":
        needed = int(request.policy.get("required_approvals", 1))
        return Approval(
            PENDING,
            request.id,
            f"{where} is pending: {request.approvals} of {needed} approvals "
            f"(`loopml models approve {request.id}`)",
        )
    return Approval(REJECTED, request.id, f"{where} was rejected: {request.outcome or 'no reason'}")


def without_approver(registry: RegistryService, candidate: Route) -> str | None:
    """Why the champion move of `candidate` would be made with no person deciding (the alias
    is unprotected, or the policy approves automatically), or None when an approver decides."""
    model = registry.get_model(candidate.model)
    if CHAMPION not in model.protected_aliases:
        return f"{CHAMPION} of {model.name} is not protected"
    if registry.policy(model.name).auto_approve:
        return f"the policy of {model.name} approves {CHAMPION} moves automatically"
    return None


def pending_request(approvals: ApprovalService, candidate: Route) -> ApprovalRequest | None:
    """The pending request to move champion to `candidate`, if there is one."""
    found = approvals.list(
        candidate.model,
        status="PENDING",
        alias=CHAMPION,
        version=candidate.version,
        newest_first=True,
        max_results=1,
    )
    return found[0] if found else None


def call_off(
    registry: RegistryService, approvals: ApprovalService, candidate: Route, reason: str
) -> list[str]:
    """After a rollback: close the pending champion request for `candidate` with `reason` and
    clear `challenger` when it points at it, so nobody promotes what was rolled back. Safe to
    repeat; returns what it did."""
    done = []
    request = pending_request(approvals, candidate)
    if request is not None:
        with contextlib.suppress(ConflictError):  # decided meanwhile: nothing to close
            approvals.withdraw(request.id, reason)
            done.append(f"approval request {request.id} closed")
    model = registry.get_model(candidate.model)
    if model.aliases.get(CHALLENGER) == candidate.version:
        with contextlib.suppress(ConflictError, NotFoundError):  # protected, or gone already
            registry.delete_alias(model.name, CHALLENGER)
            done.append(f"{model.name}@{CHALLENGER} cleared")
    return done
