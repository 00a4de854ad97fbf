"""The `approvals` namespace: requests to move protected aliases, and their decisions."""

from __future__ import annotations

from typing import Protocol

from loopml.registry import ApprovalRequest, ApprovalService
from loopml.store.paging import Page


class Approvals(Protocol):
    """Approval requests, the same in local and remote mode. Approvers decide requests
    other than their own (four eyes); the alias moves once the policy is satisfied."""

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest:
        """Ask for protected `alias` to point at version `ref`; the checks run at once."""
        ...

    def get(self, request_id: str) -> ApprovalRequest:
        """One request with its checks and decisions."""
        ...

    def list(
        self,
        model: str | None = None,
        *,
        status: str | None = None,
        alias: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ApprovalRequest]:
        """Requests, oldest first, optionally about one model, status or alias."""
        ...

    def approve(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        """An approver's yes."""
        ...

    def reject(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        """An approver's no: the alias stays where it is."""
        ...

    def cancel(self, request_id: str) -> ApprovalRequest:
        """Withdraw a pending request (its requester or an admin)."""
        ...


class LocalApprovals:
    """`Approvals` over the workspace's `ApprovalService`."""

    def __init__(self, service: ApprovalService) -> None:
        self._service = service

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest:
        return self._service.request(ref, alias, reason)

    def get(self, request_id: str) -> ApprovalRequest:
        return self._service.get(request_id)

    def list(
        self,
        model: str | None = None,
        *,
        status: str | None = None,
        alias: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ApprovalRequest]:
        return self._service.list(
            model, status=status, alias=alias, max_results=max_results, page_token=page_token
        )

    def approve(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self._service.approve(request_id, comment)

    def reject(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self._service.reject(request_id, comment)

    def cancel(self, request_id: str) -> ApprovalRequest:
        return self._service.cancel(request_id)
