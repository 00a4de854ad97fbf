"""The `audit` namespace over `loopml server`."""

from __future__ import annotations

from typing import Any

from loopml.errors import NotFoundError
from loopml.governance import AuditEvent, VerifyResult
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.records import audit_event, page_of, verify_result
from loopml.store.paging import Page


class RemoteAudit:
    """`Audit` (loopml.sdk.api.audit) in remote mode."""

    def __init__(self, http: RemoteHttp) -> None:
        self._http = http

    def events(
        self,
        obj: str | None = None,
        *,
        newest_first: bool = True,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        params: dict[str, Any] = {
            "newest_first": "true" if newest_first else "false",
            "max_results": max_results,
        }
        if obj is not None:
            params["object"] = obj
        if page_token is not None:
            params["page_token"] = page_token
        found = self._http.call("GET", "/audit/events", params=params)
        return page_of([audit_event(item) for item in found["events"]], found)

    def event(self, seq: int) -> AuditEvent | None:
        try:
            return audit_event(self._http.call("GET", f"/audit/events/{int(seq)}"))
        except NotFoundError:
            return None

    def verify(self) -> VerifyResult:
        return verify_result(self._http.call("GET", "/audit/verify"))
