"""Admission: whether a routing change obeys the traffic policy in force.

The service asks this inside the change's transaction, with the deployment's row locked,
about the routing the change would write. For each version that would get more than it
has now:

1. a rollback may give back a share the version had at an earlier revision of this
   deployment (every revision was admitted when it went live);
2. a share above `max_partial_weight` needs a `full_traffic` rule, a smaller one a
   `partial_traffic` or `full_traffic` rule, a new mirrored copy a `shadow` rule.

Keeping or losing traffic never needs anything, so a canary can always shrink the stable
version, whatever its aliases say now. Each refusal names the version, its share, the rule
it misses and how to get it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from loopml.deployments.records import Deployment, Route
from loopml.governance.traffic_policy import (
    ALIAS,
    ANY,
    APPROVED,
    CHECKS,
    PolicyInForce,
    TrafficPolicy,
)
from loopml.store.schema import (
    approval_requests,
    deployment_history,
    model_aliases,
    registered_models,
)

TOLERANCE = 1e-9
ROLLBACK = "rollback"
OVERRIDE_HINT = (
    "or an admin overrides the policy, with a reason (`--override-policy --reason '…'`, "
    "SDK `override_reason=`)"
)


@dataclass
class _ModelFacts:
    """What the rules look at for one registered model, read once per change."""

    aliases: dict[str, int] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)
    checked: set[int] = field(default_factory=set)  # versions whose request passed its checks


def refusals(
    conn: Connection,
    in_force: PolicyInForce,
    name: str,
    current: Deployment | None,
    routes: Sequence[Route],
    shadows: Sequence[Route],
    operation: str,
) -> list[str]:
    """Why the routing is not admitted, one sentence per version (empty: admitted)."""
    policy = in_force.policy
    before = {} if current is None else {r.key: r.weight for r in current.routes}
    mirrored = set() if current is None else {s.key for s in current.shadows}
    gains = [r for r in routes if r.weight > before.get(r.key, 0.0) + TOLERANCE]
    new_shadows = [s for s in shadows if s.key not in mirrored]
    if operation == ROLLBACK and gains:
        earlier = _earlier_shares(conn, name)
        gains = [r for r in gains if r.weight > earlier.get(r.key, 0.0) + TOLERANCE]
    if not gains and not new_shadows:
        return []
    facts = _facts(conn, policy, {r.model for r in [*gains, *new_shadows]})
    found = []
    for route in gains:
        full = route.weight > policy.max_partial_weight + TOLERANCE
        rules = policy.full_traffic if full else [*policy.full_traffic, *policy.partial_traffic]
        if not _meets(policy, facts[route.model], route.version, rules):
            found.append(_refusal(in_force, facts[route.model], route, rules, full))
    for shadow in new_shadows:
        if not _meets(policy, facts[shadow.model], shadow.version, policy.shadow):
            found.append(_shadow_refusal(in_force, shadow))
    return found


def _meets(policy: TrafficPolicy, facts: _ModelFacts, version: int, rules: Iterable[str]) -> bool:
    for rule in rules:
        if rule == ANY:
            return True
        alias = policy.approved_alias
        if rule == APPROVED and alias in facts.protected and facts.aliases.get(alias) == version:
            return True
        if rule == CHECKS and version in facts.checked:
            return True
        if rule.startswith(ALIAS) and facts.aliases.get(rule[len(ALIAS) :]) == version:
            return True
    return False


def _facts(conn: Connection, policy: TrafficPolicy, models: set[str]) -> dict[str, _ModelFacts]:
    """Aliases, protected aliases and versions with passed checks of each model."""
    facts = {model: _ModelFacts() for model in models}
    for model, alias, version in conn.execute(
        select(model_aliases.c.model, model_aliases.c.alias, model_aliases.c.version).where(
            model_aliases.c.model.in_(models)
        )
    ):
        facts[model].aliases[alias] = int(version)
    for model, protected in conn.execute(
        select(registered_models.c.name, registered_models.c.protected_aliases).where(
            registered_models.c.name.in_(models)
        )
    ):
        facts[model].protected = set(protected or [])
    for model, version, checks in conn.execute(
        select(
            approval_requests.c.model, approval_requests.c.version, approval_requests.c.checks
        ).where(
            approval_requests.c.model.in_(models),
            approval_requests.c.alias == policy.approved_alias,
            approval_requests.c.status.in_(("PENDING", "APPROVED")),
        )
    ):
        if all(isinstance(c, dict) and c.get("passed") is True for c in checks or []):
            facts[model].checked.add(int(version))
    return facts


def _earlier_shares(conn: Connection, name: str) -> dict[tuple[str, int], float]:
    """The largest share each version had at any earlier revision of the deployment."""
    shares: dict[tuple[str, int], float] = {}
    for (routes,) in conn.execute(
        select(deployment_history.c.routes).where(deployment_history.c.deployment == name)
    ):
        for item in routes or []:
            route = Route.from_dict(item)
            shares[route.key] = max(shares.get(route.key, 0.0), route.weight)
    return shares


def _refusal(
    in_force: PolicyInForce, facts: _ModelFacts, route: Route, rules: list[str], full: bool
) -> str:
    policy = in_force.policy
    share = "more than" if full else "up to"
    needs = " or ".join(policy.describe_rule(rule) for rule in dict.fromkeys(rules))
    return (
        f"{route.uri} would get {route.weight:g}% of the traffic, but {in_force.source} gives "
        f"{share} {policy.max_partial_weight:g}% only to a version that {needs}"
        f"{_where_alias(policy, facts, route)}; {_fix(policy, route, rules)}"
    )


def _where_alias(policy: TrafficPolicy, facts: _ModelFacts, route: Route) -> str:
    alias = policy.approved_alias
    if alias not in facts.protected:
        return f" ({alias!r} is not protected on model {route.model!r}, so it proves no approval)"
    holder = facts.aliases.get(alias)
    if holder is None:
        return f" ({route.model}@{alias} points at no version yet)"
    return f" ({route.model}@{alias} is model:{route.model}/{holder})"


def _fix(policy: TrafficPolicy, route: Route, rules: list[str]) -> str:
    steps = []
    if APPROVED in rules or CHECKS in rules:
        steps.append(
            f"request the approval (`loopml models request {route.uri} --alias "
            f"{policy.approved_alias}`)"
        )
    steps += [f"point {rule[len(ALIAS) :]!r} at it" for rule in rules if rule.startswith(ALIAS)]
    return ", ".join([*steps, OVERRIDE_HINT])


def _shadow_refusal(in_force: PolicyInForce, shadow: Route) -> str:
    policy = in_force.policy
    needs = " or ".join(policy.describe_rule(rule) for rule in policy.shadow)
    return (
        f"{shadow.uri} would get a mirrored copy of the traffic, but {in_force.source} mirrors "
        f"only to a version that {needs}; {OVERRIDE_HINT}"
    )


def describe(found: list[str], operation: str, name: str) -> str:
    """The message of a refused change."""
    return f"{operation} of deployment {name!r} refused: " + "; ".join(found)


def override_details(in_force: PolicyInForce, reason: str | None, found: list[str]) -> Any:
    """What the change's audit event records about the policy."""
    details: dict[str, Any] = {"source": in_force.scope, "event": in_force.event}
    if reason is not None:
        details["override"] = {"reason": reason, "refusals": found}
    return details
