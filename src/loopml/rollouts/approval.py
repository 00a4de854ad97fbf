"""Promotion through the approval rules: the `champion` alias of the candidate's model moves
only as its policy allows, so a rollout ends with the registry's approval workflow.

An approval request for champion → candidate that already exists (e.g. opened by a
pipeline's validation gate, or by this rollout before a crash) is used; otherwise one is
opened, which runs the policy's checks and approves at once under `auto_approve`. A model
whose champion alias is not protected has no approval rules: the alias is set directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopml.deployments.records import Route
from loopml.errors import ConflictError, ValidationError
from loopml.registry import ApprovalRequest, ApprovalService, RegistryService

CHAMPION = "champion"
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
    found = [
        r
        for r in approvals.list(candidate.model, alias=CHAMPION)
        if r.version == candidate.version and (r.status == "PENDING" or r.created_at >= since)
    ]
    return found[-1] if found else None


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
