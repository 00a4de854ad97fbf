"""The `approvals` namespace over `loopml server`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from loopml.registry import ApprovalRequest
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.records import approval_request, page_of
from loopml.store.paging import Page


class RemoteApprovals:
    """`Approvals` (loopml.sdk.api.approvals) in remote mode."""

    def __init__(self, http: RemoteHttp) -> None:
        self._http = http

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest:
        body = {"model": ref, "alias": alias, "reason": reason}
        return approval_request(self._http.call("POST", "/approvals", json=body))

    def get(self, request_id: str) -> ApprovalRequest:
        return approval_request(self._http.call("GET", f"/approvals/{quote(request_id, safe='')}"))

    def list(
        self,
        model: str | None = None,
        *,
        status: str | None = None,
        alias: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ApprovalRequest]:
        params: dict[str, Any] = {"max_results": max_results}
        for key, value in (
            ("model", model),
            ("status", status),
            ("alias", alias),
            ("page_token", page_token),
        ):
            if value is not None:
                params[key] = value
        found = self._http.call("GET", "/approvals", params=params)
        return page_of([approval_request(item) for item in found["requests"]], found)

    def approve(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self._decide(request_id, "approve", {"comment": comment})

    def reject(self, request_id: str, comment: str | None = None) -> ApprovalRequest:
        return self._decide(request_id, "reject", {"comment": comment})

    def cancel(self, request_id: str) -> ApprovalRequest:
        return self._decide(request_id, "cancel", {})

    def _decide(self, request_id: str, verb: str, body: dict[str, Any]) -> ApprovalRequest:
        route = f"/approvals/{quote(request_id, safe='')}/{verb}"
        return approval_request(self._http.call("POST", route, json=body))
