"""Governance: identities and roles, the tamper-evident audit trail."""

from loopml.governance.audit import (
    AuditEvent,
    VerifyResult,
    append_event,
    event_at,
    list_events,
    page_events,
    verify_chain,
)
from loopml.governance.identity import IdentityService, PrincipalRecord, require

__all__ = [
    "AuditEvent",
    "IdentityService",
    "PrincipalRecord",
    "VerifyResult",
    "append_event",
    "event_at",
    "list_events",
    "page_events",
    "require",
    "verify_chain",
]
