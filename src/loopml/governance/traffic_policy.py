"""The traffic policy: which model versions may take how much production traffic.

Deployments apply it to every routing change (deployments/admission.py); this module says
what it is and where it is kept. A version qualifies for a share of traffic by *rules*:

- `approved`: it holds the policy's approved alias (default `champion`), and its model
  protects that alias, so it got there through an approval request;
- `checks`: a request to move the approved alias to it passed its automatic checks and is
  pending or approved;
- `alias:NAME`: it holds the alias NAME (any alias, protected or not);
- `any`: every servable version.

The policy in force is not a row anyone can edit: it is the newest `traffic_policy.set` (or
`.clear`) audit event of its scope, and it is used only after its MAC is checked under the
audit key. An edited or forged policy event is refused (`AuditChainError`), so a direct
database edit cannot loosen the policy unnoticed: changes wait until an admin sets it again.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, select

from loopml.errors import AuditChainError, NotFoundError, ValidationError
from loopml.governance.audit import AuditEvent, append_event, mac_of
from loopml.governance.identity import require
from loopml.store import Stores
from loopml.store.schema import audit_events, deployments
from loopml.store.seal import seal_of
from loopml.validation import check_name

APPROVED = "approved"
CHECKS = "checks"
ANY = "any"
ALIAS = "alias:"
SET = "traffic_policy.set"
CLEAR = "traffic_policy.clear"
WORKSPACE_OBJECT = "workspace:traffic-policy"
_ALIAS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _check_alias_name(alias: str, where: str) -> str:
    if not _ALIAS_NAME.match(alias) or alias.isdigit() or alias == "latest":
        raise ValueError(
            f"{where} {alias!r} must be 1-64 letters, digits, '_' or '-', not a number or 'latest'"
        )
    return alias


class TrafficPolicy(BaseModel):
    """Full traffic (more than `max_partial_weight` percent) goes only to versions meeting a
    `full_traffic` rule; a share up to `max_partial_weight` to versions meeting a
    `partial_traffic` (or `full_traffic`) rule; mirrored copies to versions meeting a
    `shadow` rule. The default keeps full traffic for the approved version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    approved_alias: str = "champion"
    full_traffic: list[str] = Field(default_factory=lambda: [APPROVED], min_length=1)
    partial_traffic: list[str] = Field(default_factory=lambda: [APPROVED, CHECKS], min_length=1)
    max_partial_weight: float = Field(default=50.0, gt=0, le=100)
    shadow: list[str] = Field(default_factory=lambda: [ANY], min_length=1)

    @field_validator("max_partial_weight", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number of percent, got {value!r}")
        return value

    @field_validator("approved_alias")
    @classmethod
    def _alias_ok(cls, value: str) -> str:
        return _check_alias_name(value, "approved_alias")

    @field_validator("full_traffic", "partial_traffic", "shadow")
    @classmethod
    def _rules_known(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            if rule.startswith(ALIAS):
                _check_alias_name(rule[len(ALIAS) :], "the alias of rule")
            elif rule not in (APPROVED, CHECKS, ANY):
                raise ValueError(
                    f"unknown rule {rule!r}: use {APPROVED}, {CHECKS}, {ANY} or alias:NAME"
                )
        return list(dict.fromkeys(rules))

    def describe_rule(self, rule: str) -> str:
        """A rule in words, as error messages and `loopml deploy policy show` say it."""
        if rule == APPROVED:
            return f"holds the protected alias {self.approved_alias!r}"
        if rule == CHECKS:
            return (
                f"has a request to become {self.approved_alias!r} whose automatic checks "
                "passed (pending or approved)"
            )
        if rule == ANY:
            return "any servable version"
        return f"holds the alias {rule[len(ALIAS) :]!r}"


#: Every version may take any share: for workspaces (or tests) that choose no rules.
OPEN = TrafficPolicy(full_traffic=[ANY], partial_traffic=[ANY], shadow=[ANY])


def parse_traffic_policy(data: Any) -> TrafficPolicy:
    """A TrafficPolicy from a dict (e.g. a JSON file), with every problem named."""
    if isinstance(data, TrafficPolicy):
        return data
    if data is None:
        return TrafficPolicy()
    if not isinstance(data, dict):
        raise ValidationError(f"a traffic policy must be a dict, got {data!r}")
    try:
        return TrafficPolicy.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValidationError(f"invalid traffic policy ({problems})") from exc


@dataclass(frozen=True)
class PolicyInForce:
    """The policy that applies to a deployment, and where it comes from."""

    policy: TrafficPolicy
    scope: str  # "default", "workspace" or "deployment"
    deployment: str | None = None
    set_by: str | None = None
    set_at: float | None = None
    reason: str | None = None
    event: int | None = None  # the audit event that set it

    @property
    def source(self) -> str:
        if self.scope == "deployment":
            return f"the traffic policy of deployment {self.deployment!r}"
        if self.scope == "workspace":
            return "the workspace's traffic policy"
        return "the default traffic policy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "deployment": self.deployment,
            "policy": self.policy.model_dump(mode="json"),
            "set_by": self.set_by,
            "set_at": self.set_at,
            "reason": self.reason,
            "event": self.event,
        }


def deployment_object(name: str) -> str:
    return f"deployment:{name}"


def policy_in_force(conn: Connection, deployment: str | None = None) -> PolicyInForce:
    """The deployment's own policy, else the workspace's, else the default — each read from
    its audit event after checking the event's MAC."""
    if deployment is not None:
        found = _newest(conn, deployment_object(deployment))
        if found is not None and found.action == SET:
            return _in_force(found, "deployment", deployment)
    found = _newest(conn, WORKSPACE_OBJECT)
    if found is not None and found.action == SET:
        return _in_force(found, "workspace", None)
    return PolicyInForce(TrafficPolicy(), "default")


def _newest(conn: Connection, obj: str) -> AuditEvent | None:
    row = conn.execute(
        select(audit_events)
        .where(audit_events.c.object == obj, audit_events.c.action.in_((SET, CLEAR)))
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    event = AuditEvent(**dict(row._mapping))
    key = seal_of(conn.engine).key(conn)
    if not hmac.compare_digest(mac_of(key, event), event.hash):
        raise AuditChainError(
            f"the traffic policy in audit event {event.seq} ({event.object}) does not match "
            "its MAC: it was edited outside loopml, so it is not used and routing changes "
            "are refused. Run `loopml audit verify`, then an admin sets the policy again "
            "(`loopml deploy policy set`)"
        )
    return event


def _in_force(event: AuditEvent, scope: str, deployment: str | None) -> PolicyInForce:
    return PolicyInForce(
        policy=parse_traffic_policy(event.details.get("policy")),
        scope=scope,
        deployment=deployment,
        set_by=event.actor,
        set_at=event.time,
        reason=event.details.get("reason"),
        event=event.seq,
    )


class TrafficPolicyService:
    """Read the traffic policy in force; set or clear it (admins only, audited)."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    def get(self, deployment: str | None = None) -> PolicyInForce:
        """The policy that applies to `deployment` (or to the workspace)."""
        with self.engine.connect() as conn:
            if deployment is not None:
                self._check_deployment(conn, deployment)
            return policy_in_force(conn, deployment)

    def set(
        self,
        policy: TrafficPolicy | dict[str, Any],
        *,
        deployment: str | None = None,
        reason: str | None = None,
    ) -> PolicyInForce:
        """Make `policy` the workspace's (or one deployment's) traffic policy."""
        require(self.stores.actor, "admin", "set traffic policies")
        parsed = parse_traffic_policy(policy)
        details = {"policy": parsed.model_dump(mode="json"), "reason": _reason(reason)}
        return self._write(SET, deployment, details)

    def clear(self, *, deployment: str | None = None, reason: str | None = None) -> PolicyInForce:
        """Drop a deployment's own policy (the workspace's applies again), or the workspace's
        (the default applies again)."""
        require(self.stores.actor, "admin", "clear traffic policies")
        return self._write(CLEAR, deployment, {"reason": _reason(reason)})

    def _write(self, action: str, deployment: str | None, details: dict[str, Any]) -> PolicyInForce:
        obj = WORKSPACE_OBJECT if deployment is None else deployment_object(deployment)
        with self.engine.begin() as conn:
            if deployment is not None:
                self._check_deployment(conn, deployment)
            if action == CLEAR:
                current = _newest(conn, obj)
                if current is None or current.action == CLEAR:
                    where = "the workspace" if deployment is None else repr(deployment)
                    raise NotFoundError(f"{where} has no traffic policy of its own to clear")
            if deployment is not None:
                details = {**details, "deployment": deployment}
            append_event(conn, self.stores.actor, action, obj, details)
            return policy_in_force(conn, deployment)

    def _check_deployment(self, conn: Connection, name: str) -> None:
        check_name("deployment", name)
        found = conn.execute(select(deployments.c.name).where(deployments.c.name == name)).first()
        if found is None:
            raise NotFoundError(f"no deployment {name!r}; `loopml deploy list` shows them")


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise ValidationError(f"reason must be text, got {type(reason).__name__}")
    return reason.strip() or None
