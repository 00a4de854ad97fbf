"""Approval requests: a protected alias moves only when its model's policy is satisfied.

The policy in force is copied onto the request when it opens, so a later policy change
does not alter a request in flight. Four eyes: with `four_eyes`, a requester can never
approve their own request.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import append_event, require
from loopml.governance.independence import independence_problem
from loopml.registry.aliases import check_alias, move_alias
from loopml.registry.checks import run_checks
from loopml.registry.evaluation import EvaluationService
from loopml.registry.policy import Policy, parse_policy
from loopml.registry.records import ApprovalRequest, Decision
from loopml.registry.service import RegistryService
from loopml.store import new_id
from loopml.store.paging import Keyset, Page, SortKey
from loopml.store.principal import Principal
from loopml.store.schema import approval_decisions, approval_requests, model_versions

AUTO_APPROVER = "policy:auto-approve"
_OLDEST = Keyset(
    "approval requests",
    [SortKey(approval_requests.c.created_at), SortKey(approval_requests.c.id)],
)
_NEWEST = Keyset(
    "approval requests, newest first",
    [
        SortKey(approval_requests.c.created_at, descending=True),
        SortKey(approval_requests.c.id, descending=True),
    ],
)


class ApprovalService:
    """Open, decide and list approval requests."""

    def __init__(self, registry: RegistryService, evaluations: EvaluationService) -> None:
        self.registry = registry
        self.evaluations = evaluations
        self.stores = registry.stores
        self.engine = registry.engine

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest:
        """Ask for `alias` to point at version `ref`; automatic checks run right away."""
        actor = self.stores.actor
        require(actor, "write", "request alias changes")
        check_alias(alias)
        candidate = self.registry.get_version(ref)
        model = self.registry.get_model(candidate.model)
        if alias not in model.protected_aliases:
            raise ValidationError(
                f"alias {alias!r} of {model.name} is not protected; set it directly "
                "(`loopml models alias`)"
            )
        if candidate.state != "REGISTERED":
            raise ValidationError(
                f"{candidate.uri} is {candidate.state}; only REGISTERED versions can be promoted"
            )
        if model.aliases.get(alias) == candidate.version:
            raise ConflictError(f"{alias!r} already points at {candidate.uri}")
        pending = self.list(candidate.model, status="PENDING", alias=alias, max_results=1)
        if pending:
            raise ConflictError(
                f"request {pending[0].id} for {model.name}@{alias} is still pending; "
                "decide or cancel it first"
            )
        policy = self.registry.policy(model.name)
        holder_version = model.aliases.get(alias)
        holder = (
            self.registry.get_version(f"{model.name}/{holder_version}")
            if holder_version is not None
            else None
        )
        checks = run_checks(policy, candidate, holder, self.evaluations)
        request_id = new_id("req")
        now = time.time()
        failed = [c for c in checks if not c["passed"]]
        with self.engine.begin() as conn:
            conn.execute(
                approval_requests.insert().values(
                    id=request_id,
                    model=model.name,
                    alias=alias,
                    version=candidate.version,
                    previous_version=holder_version,
                    requester=actor.name,
                    status="PENDING",
                    policy=policy.model_dump(mode="json"),
                    checks=checks,
                    reason=reason,
                    created_at=now,
                    decided_at=None,
                )
            )
            append_event(
                conn,
                actor,
                "approval.request",
                f"request:{request_id}",
                {
                    "model": model.name,
                    "alias": alias,
                    "version": candidate.version,
                    "checks_passed": not failed,
                },
            )
            if failed:
                self._close(
                    conn,
                    request_id,
                    "REJECTED",
                    "loopml",
                    "automatic checks failed: " + "; ".join(c["name"] for c in failed),
                )
            elif policy.auto_approve:
                conn.execute(
                    approval_decisions.insert().values(
                        request_id=request_id,
                        principal=AUTO_APPROVER,
                        decision="APPROVE",
                        comment="approved automatically: the model's policy sets auto_approve",
                        decided_at=now,
                    )
                )
                self._close(
                    conn,
                    request_id,
                    "APPROVED",
                    AUTO_APPROVER,
                    "auto-approve policy",
                    move=(model.name, alias, candidate.version),
                )
        return self.get(request_id)

    def approve(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self._decide(request_id, "APPROVE", comment)

    def reject(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self._decide(request_id, "REJECT", comment)

    def cancel(self, request_id: str) -> ApprovalRequest:
        """Withdraw a pending request (its requester or an admin)."""
        actor = self.stores.actor
        request = self.get(request_id)
        if request.requester != actor.name and not actor.at_least("admin"):
            raise PermissionDeniedError(
                f"only {request.requester} or an admin may cancel request {request_id}"
            )
        self._require_pending(request)
        with self.engine.begin() as conn:
            self._close(conn, request_id, "REJECTED", actor.name, "cancelled by " + actor.name)
        return self.get(request_id)

    def withdraw(self, request_id: str, reason: str) -> ApprovalRequest:
        """Close a pending request because what it asks for was called off (a rollout of its
        version rolled back): REJECTED, with `reason` as its outcome. It can only block a
        move, never make one, so the editor role suffices."""
        actor = self.stores.actor
        require(actor, "write", "withdraw approval requests")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("say why the request is withdrawn: reason must be a sentence")
        self._require_pending(self.get(request_id))
        with self.engine.begin() as conn:
            closed = conn.execute(
                update(approval_requests)
                .where(
                    approval_requests.c.id == request_id, approval_requests.c.status == "PENDING"
                )
                .values(status="REJECTED", decided_at=time.time(), outcome=reason.strip())
            )
            if closed.rowcount != 1:
                raise ConflictError(f"request {request_id} was decided meanwhile")
            append_event(
                conn,
                actor,
                "approval.withdraw",
                f"request:{request_id}",
                {"reason": reason.strip()},
            )
        return self.get(request_id)

    def _decide(self, request_id: str, decision: str, comment: str | None) -> ApprovalRequest:
        actor = self.stores.actor
        request = self.get(request_id)
        policy = parse_policy(request.policy)
        self._require_pending(request)
        self._require_decider(actor, request, policy.approver_role, policy.four_eyes)
        waived = self._independence(actor, request, policy, decision)
        now = time.time()
        try:
            with self.engine.begin() as conn:
                current = conn.execute(
                    select(approval_requests.c.status).where(approval_requests.c.id == request_id)
                ).scalar()
                if current != "PENDING":
                    raise ConflictError(f"request {request_id} was already decided ({current})")
                conn.execute(
                    approval_decisions.insert().values(
                        request_id=request_id,
                        principal=actor.name,
                        decision=decision,
                        comment=comment,
                        decided_at=now,
                    )
                )
                details: dict[str, Any] = {"comment": comment}
                if waived:
                    details["independence_waived"] = waived
                append_event(
                    conn, actor, f"approval.{decision.lower()}", f"request:{request_id}", details
                )
                if decision == "REJECT":
                    self._close(conn, request_id, "REJECTED", actor.name, comment or "rejected")
                elif request.approvals + 1 >= policy.required_approvals:
                    state = conn.execute(
                        select(model_versions.c.state).where(
                            model_versions.c.model == request.model,
                            model_versions.c.version == request.version,
                        )
                    ).scalar()
                    if state != "REGISTERED":
                        raise ConflictError(
                            f"model:{request.model}/{request.version} is now "
                            f"{state}; it can no longer be promoted"
                        )
                    self._close(
                        conn,
                        request_id,
                        "APPROVED",
                        actor.name,
                        comment or "approved",
                        move=(request.model, request.alias, request.version),
                    )
        except IntegrityError as exc:
            raise ConflictError(f"{actor.name} has already decided request {request_id}") from exc
        return self.get(request_id)

    def _require_pending(self, request: ApprovalRequest) -> None:
        if request.status != "PENDING":
            raise ConflictError(f"request {request.id} is already {request.status}")

    def _require_decider(
        self, actor: Principal, request: ApprovalRequest, role: str, four_eyes: bool
    ) -> None:
        if not actor.at_least(role):
            if not actor.authenticated:  # says that a token is needed
                require(actor, "admin" if role == "admin" else "approve", "decide requests")
            raise PermissionDeniedError(
                f"{actor.name} ({actor.role}) may not decide request {request.id}: the policy "
                f"of {request.model} needs the {role} role"
            )
        if four_eyes and actor.name == request.requester:
            raise PermissionDeniedError(
                f"{actor.name} opened request {request.id} and may not decide it (four-eyes "
                "rule): another approver must"
            )
        if any(d.principal == actor.name for d in request.decisions):
            raise ConflictError(f"{actor.name} has already decided request {request.id}")

    def _independence(
        self, actor: Principal, request: ApprovalRequest, policy: Policy, decision: str
    ) -> str | None:
        """Refuse an approval by someone not independent of the requester; returns the
        reason when the policy waives the rule (recorded in the audit event)."""
        if decision != "APPROVE" or not policy.four_eyes:
            return None
        problem = independence_problem(
            self.engine, actor.name, request.requester, request.created_at
        )
        if problem is None:
            return None
        if not policy.independent_approvers:
            return problem
        raise PermissionDeniedError(
            f"{actor.name} may not approve request {request.id}: {problem}, so the approval "
            "would not come from a second person (four-eyes rule). Another approver must; an "
            "admin can relax this with the policy option independent_approvers = false"
        )

    def _close(
        self,
        conn: Connection,
        request_id: str,
        status: str,
        actor: str,
        reason: str,
        move: tuple[str, str, int] | None = None,
    ) -> None:
        conn.execute(
            update(approval_requests)
            .where(approval_requests.c.id == request_id)
            .values(status=status, decided_at=time.time(), outcome=reason)
        )
        append_event(
            conn, actor, f"approval.{status.lower()}", f"request:{request_id}", {"reason": reason}
        )
        if move is not None:
            move_alias(conn, *move, actor=actor)

    # ------------------------------------------------------------------ reading
    def get(self, request_id: str) -> ApprovalRequest:
        found = self._load([request_id])
        if not found:
            raise NotFoundError(
                f"no approval request {request_id}; `loopml models requests` lists them"
            )
        return found[0]

    def list(
        self,
        model: str | None = None,
        *,
        status: str | None = None,
        alias: str | None = None,
        version: int | None = None,
        newest_first: bool = False,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ApprovalRequest]:
        """Requests oldest first (or newest first), optionally about one model, alias or
        version, or in one status, a page at a time."""
        query = select(approval_requests.c.id, approval_requests.c.created_at)
        if model is not None:
            query = query.where(approval_requests.c.model == model)
        if status is not None:
            query = query.where(approval_requests.c.status == status)
        if alias is not None:
            query = query.where(approval_requests.c.alias == alias)
        if version is not None:
            query = query.where(approval_requests.c.version == version)
        scope = {"model": model, "status": status, "alias": alias, "version": version}
        keys = _NEWEST if newest_first else _OLDEST
        with self.engine.connect() as conn:
            rows, token = keys.page(
                conn, query, max_results=max_results, page_token=page_token, scope=scope
            )
        return Page(self._load([r.id for r in rows]), token)

    def _load(self, ids: builtins.list[str]) -> builtins.list[ApprovalRequest]:
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    select(approval_requests).where(approval_requests.c.id.in_(ids))
                )
            }
            decisions: dict[str, builtins.list[Decision]] = {}
            for d in conn.execute(
                select(approval_decisions)
                .where(approval_decisions.c.request_id.in_(ids))
                .order_by(approval_decisions.c.decided_at)
            ):
                decisions.setdefault(d.request_id, []).append(
                    Decision(d.principal, d.decision, d.comment, d.decided_at)
                )
        result = []
        for request_id in ids:
            if request_id in rows:
                m: Any = rows[request_id]._mapping
                result.append(ApprovalRequest(**dict(m), decisions=decisions.get(request_id, [])))
        return result
