"""The `audit` namespace: the tamper-evident trail of every change, and its verification."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from loopml.governance import AuditEvent, VerifyResult, event_at, page_events, verify_chain
from loopml.store.paging import Page


class Audit(Protocol):
    """The audit trail, the same in local and remote mode (viewers may read it)."""

    def events(
        self,
        obj: str | None = None,
        *,
        newest_first: bool = True,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """One page of events, optionally about `obj` (e.g. `model:bikes`, which takes in
        its versions and aliases)."""
        ...

    def event(self, seq: int) -> AuditEvent | None:
        """The event with sequence number `seq` as stored now, if any."""
        ...

    def verify(self) -> VerifyResult:
        """Recompute the whole chain: any edit, insertion, deletion or truncation shows."""
        ...


class LocalAudit:
    """`Audit` over the workspace's metadata store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def events(
        self,
        obj: str | None = None,
        *,
        newest_first: bool = True,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        return page_events(
            self._engine,
            obj,
            newest_first=newest_first,
            max_results=max_results,
            page_token=page_token,
        )

    def event(self, seq: int) -> AuditEvent | None:
        return event_at(self._engine, seq)

    def verify(self) -> VerifyResult:
        return verify_chain(self._engine)
