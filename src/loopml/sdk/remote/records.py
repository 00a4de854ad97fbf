"""Records as the server describes them, back into the SDK's objects: a remote call
returns what the same local call returns."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from loopml.data import DatasetDiff
from loopml.governance import AuditEvent, PrincipalRecord, VerifyResult
from loopml.registry import ApprovalRequest, Decision, RegisteredModel
from loopml.store.paging import Page

T = TypeVar("T")


def record(kind: type[T], data: dict[str, Any]) -> T:
    """A dataclass `kind` from a JSON document, ignoring fields the client does not know
    (a newer server may add some)."""
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return kind(**{k: v for k, v in data.items() if k in names})


def registered_model(data: dict[str, Any]) -> RegisteredModel:
    return record(RegisteredModel, data)


def approval_request(data: dict[str, Any]) -> ApprovalRequest:
    decisions = [record(Decision, item) for item in data.get("decisions", [])]
    return dataclasses.replace(record(ApprovalRequest, data), decisions=decisions)


def principal_record(data: dict[str, Any]) -> PrincipalRecord:
    return record(PrincipalRecord, data)


def audit_event(data: dict[str, Any]) -> AuditEvent:
    return record(AuditEvent, data)


def verify_result(data: dict[str, Any]) -> VerifyResult:
    return record(VerifyResult, data)


def dataset_diff(data: dict[str, Any]) -> DatasetDiff:
    rows = data.get("rows") or {}
    return DatasetDiff(
        old=str(data["old"]),
        new=str(data["new"]),
        rows_old=int(rows.get("old", 0)),
        rows_new=int(rows.get("new", 0)),
        added=list(data.get("added", [])),
        removed=list(data.get("removed", [])),
        type_changed=list(data.get("type_changed", [])),
        columns=dict(data.get("columns", {})),
    )


def page_of(items: list[T], found: dict[str, Any]) -> Page[T]:
    """A listing's answer as a `Page` (its `next_page_token` when the server sent one)."""
    token = found.get("next_page_token")
    return Page(items, None if token is None else str(token))
