"""Deployments: named endpoints routing traffic to registered model versions.

Every change is a read-modify-write of the deployment's row inside one transaction: the
row is locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
writers), the new routing is computed from what is stored *now*, and the revision bump, the
`deployment_history` row and the audit event commit together. Concurrent changes therefore
queue up; none is lost. Serving replicas poll `revisions()` and reload a changed deployment.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from loopml.deployments.admission import describe as describe_refusals
from loopml.deployments.admission import override_details, refusals
from loopml.deployments.input_policy import InputPolicy, with_policy
from loopml.deployments.records import (
    Deployment,
    Route,
    deployment_from_row,
    describe,
    routes_from,
)
from loopml.deployments.strategies import (
    canary_routes,
    check_plan,
    smoke_test,
    strategy_for,
    without,
)
from loopml.deployments.tokens import DeploymentTokenService
from loopml.errors import ConflictError, NotFoundError, PolicyViolationError, ValidationError
from loopml.governance import append_event, require
from loopml.governance.traffic_policy import TrafficPolicyService, policy_in_force
from loopml.registry import RegistryService
from loopml.store import Stores
from loopml.store.principal import Principal
from loopml.store.schema import deployment_history, deployments, model_versions
from loopml.validation import check_key, check_name

SERVABLE = ("REGISTERED",)
RESTORABLE = ("REGISTERED", "DEPRECATED")  # a rollback may return to a deprecated version


@dataclass(frozen=True)
class Plan:
    """The routing a change asks for."""

    routes: list[Route]
    shadows: list[Route]
    strategy: str
    sticky_key: str | None
    config: dict[str, Any] | None = None  # None: keep the current config


class DeploymentService:
    """Create deployments and change their routing: canary, blue-green, shadow, rollback."""

    def __init__(self, stores: Stores, registry: RegistryService) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.registry = registry
        self.tokens = DeploymentTokenService(stores)
        self.policy = TrafficPolicyService(stores)

    # ------------------------------------------------------------------ create
    def create(
        self,
        name: str,
        model_ref: str,
        *,
        sticky_key: str | None = None,
        config: dict[str, Any] | None = None,
        unknown_categories: str | None = None,
        extra_columns: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        """A new deployment sending all traffic to the version `model_ref` names right now
        (which the traffic policy must admit at 100 %, unless an admin overrides it).

        `unknown_categories` (error | accept | flag) and `extra_columns` (error | ignore) say
        what the endpoint does with input its model did not see in training; both default
        to error (see `loopml.deployments.input_policy`).
        """
        actor = self.stores.actor
        require(actor, "write", "create deployments")
        check_name("deployment", name)
        override = _override(actor, override_reason)
        _check_sticky(sticky_key)
        settings = with_policy(_check_config(config), unknown_categories, extra_columns)
        route = self._resolve(model_ref)
        now = time.time()
        created = Deployment(
            name=name,
            revision=1,
            routes=[route],
            shadows=[],
            strategy="single",
            sticky_key=sticky_key,
            previous_routes=None,
            config=settings,
            created_by=actor.name,
            created_at=now,
            updated_by=actor.name,
            updated_at=now,
        )
        try:
            with self.engine.begin() as conn:
                if self._row(conn, name) is not None:
                    raise _exists(name)
                self._check_versions(conn, created.routes, SERVABLE)
                policy = self._admit(conn, created, None, "create", override)
                conn.execute(deployments.insert().values(**_row_values(created)))
                self._record(conn, created, "deployment.create", "create", override, policy)
        except IntegrityError as exc:  # created concurrently by someone else
            raise _exists(name) from exc
        return created

    # ------------------------------------------------------------------ changes
    def update(
        self,
        name: str,
        routes: Sequence[Route | dict[str, Any]] | None = None,
        *,
        shadows: Sequence[Route | dict[str, Any]] | None = None,
        strategy: str | None = None,
        sticky_key: str | EllipsisType | None = ...,
        unknown_categories: str | None = None,
        extra_columns: str | None = None,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        """Replace the routing and/or the input settings, as one new revision.

        `routes=None` keeps the current routes (and their strategy; otherwise the strategy
        defaults to canary). Shadows default to the current ones; `sticky_key=...` keeps
        the current key, None turns sticky routing off. `unknown_categories` and
        `extra_columns` change what the endpoint does with unseen input (None: keep).
        """
        new_routes = None if routes is None else routes_from(routes)
        new_shadows = None if shadows is None else routes_from(shadows, "shadows")
        if not isinstance(sticky_key, EllipsisType):
            _check_sticky(sticky_key)
        if (
            new_routes is None
            and new_shadows is None
            and isinstance(sticky_key, EllipsisType)
            and unknown_categories is None
            and extra_columns is None
        ):
            raise ValidationError(
                f"nothing to change in deployment {name!r}: give routes, shadows, a sticky "
                "key, unknown_categories or extra_columns"
            )
        with_policy({}, unknown_categories, extra_columns)  # a bad value fails before the lock

        def plan(current: Deployment) -> Plan:
            changed = with_policy(current.config, unknown_categories, extra_columns)
            return Plan(
                routes=current.routes if new_routes is None else new_routes,
                shadows=current.shadows if new_shadows is None else new_shadows,
                strategy=strategy or ("canary" if new_routes is not None else current.strategy),
                sticky_key=(
                    current.sticky_key if isinstance(sticky_key, EllipsisType) else sticky_key
                ),
                config=changed if changed != current.config else None,
            )

        return self._change(
            name, plan, operation="update", reason=reason, override_reason=override_reason
        )

    def canary(
        self,
        name: str,
        model_ref: str,
        weight: float,
        *,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        """Send `weight` percent to `model_ref`; the current routes share the rest pro rata."""
        candidate = self._resolve(model_ref)

        def plan(current: Deployment) -> Plan:
            return Plan(
                routes=canary_routes(name, current.routes, candidate, weight),
                shadows=without(current.shadows, candidate.key),
                strategy="canary",
                sticky_key=current.sticky_key,
            )

        return self._change(
            name, plan, operation="canary", reason=reason, override_reason=override_reason
        )

    def blue_green(
        self,
        name: str,
        model_ref: str,
        *,
        smoke_test: bool = True,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        """Switch all traffic to `model_ref` at once, after loading it and (by default)
        predicting on its input example; a failed smoke test changes nothing."""
        actor = self.stores.actor
        require(actor, "write", f"change deployment {name!r}")
        self.get(name)  # an unknown deployment fails before the model is loaded
        candidate = self._resolve(model_ref)
        if _override(actor, override_reason) is None:  # refused before the model is loaded
            found = self.traffic_refusals(name, [candidate], operation="blue-green")
            if found:
                raise PolicyViolationError(describe_refusals(found, "blue-green", name))
        if smoke_test:
            _smoke_test(self.registry, candidate)

        def plan(current: Deployment) -> Plan:
            return Plan(
                routes=[candidate],
                shadows=without(current.shadows, candidate.key),
                strategy="blue-green",
                sticky_key=current.sticky_key,
            )

        return self._change(
            name, plan, operation="blue-green", reason=reason, override_reason=override_reason
        )

    def shadow(
        self,
        name: str,
        model_ref: str,
        *,
        enabled: bool = True,
        override_reason: str | None = None,
    ) -> Deployment:
        """Mirror traffic to `model_ref` (its answers are logged, never returned), or stop."""
        candidate = self._resolve(model_ref, servable=enabled)

        def plan(current: Deployment) -> Plan:
            if enabled:
                shadows = [*without(current.shadows, candidate.key), candidate]
            else:
                if candidate.key not in {s.key for s in current.shadows}:
                    raise ValidationError(
                        f"{candidate.uri} is not a shadow of deployment {name!r} "
                        f"(its shadows: {describe(current.shadows)})"
                    )
                shadows = without(current.shadows, candidate.key)
            return Plan(current.routes, shadows, current.strategy, current.sticky_key)

        operation = "shadow" if enabled else "unshadow"
        return self._change(
            name, plan, operation=operation, reason=None, override_reason=override_reason
        )

    def promote(
        self,
        name: str,
        model_ref: str,
        *,
        reason: str | None = None,
        override_reason: str | None = None,
    ) -> Deployment:
        """Send all traffic to `model_ref` (typically the canary that proved itself)."""
        candidate = self._resolve(model_ref)

        def plan(current: Deployment) -> Plan:
            return Plan(
                routes=[candidate],
                shadows=without(current.shadows, candidate.key),
                strategy="single",
                sticky_key=current.sticky_key,
            )

        return self._change(
            name, plan, operation="promote", reason=reason, override_reason=override_reason
        )

    def rollback(
        self, name: str, *, reason: str | None = None, override_reason: str | None = None
    ) -> Deployment:
        """Restore the routes the last routing change replaced."""

        def plan(current: Deployment) -> Plan:
            if not current.previous_routes:
                raise ValidationError(
                    f"deployment {name!r} has no previous routes to roll back to: it still "
                    "serves the routing it was created with"
                )
            restored = current.previous_routes
            return Plan(
                routes=restored,
                shadows=without(current.shadows, *(r.key for r in restored)),
                strategy=strategy_for(restored),
                sticky_key=current.sticky_key,
            )

        return self._change(
            name,
            plan,
            operation="rollback",
            reason=reason,
            servable=RESTORABLE,
            override_reason=override_reason,
        )

    # ------------------------------------------------------------------ reads
    def get(self, name: str) -> Deployment:
        with self.engine.connect() as conn:
            row = self._row(conn, name)
        if row is None:
            raise _missing(name)
        return deployment_from_row(row)

    def list(self) -> list[Deployment]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deployments).order_by(deployments.c.name)).all()
        return [deployment_from_row(r) for r in rows]

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every revision oldest first: routes, shadows, strategy, reason, actor, time."""
        with self.engine.connect() as conn:
            if self._row(conn, name) is None:
                raise _missing(name)
            rows = conn.execute(
                select(deployment_history)
                .where(deployment_history.c.deployment == name)
                .order_by(deployment_history.c.revision)
            ).all()
        return [
            {
                "revision": r.revision,
                "routes": r.routes,
                "shadows": r.shadows,
                "strategy": r.strategy,
                "reason": r.reason,
                "actor": r.actor,
                "at": r.at,
            }
            for r in rows
        ]

    def revisions(self, names: builtins.list[str] | None = None) -> dict[str, int]:
        """Each deployment's current revision, in one query (servers poll this)."""
        query = select(deployments.c.name, deployments.c.revision)
        if names is not None:
            if not names:
                return {}
            query = query.where(deployments.c.name.in_(names))
        with self.engine.connect() as conn:
            return {name: int(revision) for name, revision in conn.execute(query).all()}

    # ------------------------------------------------------------------ internals
    def _change(
        self,
        name: str,
        make_plan: Callable[[Deployment], Plan],
        *,
        operation: str,
        reason: str | None,
        servable: tuple[str, ...] = SERVABLE,
        override_reason: str | None = None,
    ) -> Deployment:
        """Lock the row, compute the plan from what is stored, check it against the plan
        rules and the traffic policy, write it."""
        actor = self.stores.actor
        require(actor, "write", f"change deployment {name!r}")
        check_name("deployment", name)
        if reason is not None and not isinstance(reason, str):
            raise ValidationError(f"reason must be text, got {type(reason).__name__}")
        override = _override(actor, override_reason)
        with self.engine.begin() as conn:
            row = self._row(conn, name, lock=True)
            if row is None:
                raise _missing(name)
            current = deployment_from_row(row)
            plan = make_plan(current)
            check_plan(name, plan.routes, plan.shadows, plan.strategy)
            self._check_versions(conn, [*plan.routes, *plan.shadows], servable)
            changed = Deployment(
                name=name,
                revision=current.revision + 1,
                routes=plan.routes,
                shadows=plan.shadows,
                strategy=plan.strategy,
                sticky_key=plan.sticky_key,
                # Only a routing change moves the rollback point (a shadow change does not).
                previous_routes=(
                    current.routes if plan.routes != current.routes else current.previous_routes
                ),
                config=current.config if plan.config is None else plan.config,
                created_by=current.created_by,
                created_at=current.created_at,
                updated_by=actor.name,
                updated_at=time.time(),
            )
            policy = self._admit(conn, changed, current, operation, override)
            conn.execute(
                update(deployments)
                .where(deployments.c.name == name)
                .values(**_row_values(changed, creating=False))
            )
            action = "deployment.rollback" if operation == "rollback" else "deployment.update"
            self._record(conn, changed, action, operation, reason or override, policy)
        return changed

    def traffic_refusals(
        self,
        name: str,
        routes: Sequence[Route],
        shadows: Sequence[Route] = (),
        *,
        operation: str = "rollout",
    ) -> builtins.list[str]:
        """Why the traffic policy would refuse routing deployment `name` like this now
        (empty: it would admit it); the change itself checks again under its lock."""
        with self.engine.connect() as conn:
            row = self._row(conn, name)
            if row is None:
                raise _missing(name)
            current = deployment_from_row(row)
            return refusals(
                conn, policy_in_force(conn, name), name, current, routes, shadows, operation
            )

    def _admit(
        self,
        conn: Connection,
        changed: Deployment,
        current: Deployment | None,
        operation: str,
        override: str | None,
    ) -> dict[str, Any]:
        """Refuse routing the traffic policy does not admit, unless an admin overrides it
        with a reason; returns what the audit event records about the policy."""
        scope = None if current is None else changed.name
        in_force = policy_in_force(conn, scope)
        found = refusals(
            conn, in_force, changed.name, current, changed.routes, changed.shadows, operation
        )
        if found and override is None:
            raise PolicyViolationError(describe_refusals(found, operation, changed.name))
        details: dict[str, Any] = override_details(in_force, override, found)
        return details

    def _record(
        self,
        conn: Connection,
        deployment: Deployment,
        action: str,
        operation: str,
        reason: str | None,
        policy: dict[str, Any],
    ) -> None:
        """The history row and the audit event of a revision, in the caller's transaction."""
        routes = [r.to_dict() for r in deployment.routes]
        shadows = [r.to_dict() for r in deployment.shadows]
        conn.execute(
            deployment_history.insert().values(
                deployment=deployment.name,
                revision=deployment.revision,
                routes=routes,
                shadows=shadows,
                strategy=deployment.strategy,
                reason=reason,
                actor=deployment.updated_by,
                at=deployment.updated_at,
            )
        )
        previous = deployment.previous_routes
        append_event(
            conn,
            self.stores.actor,
            action,
            deployment.uri,
            {
                "operation": operation,
                "revision": deployment.revision,
                "routes": routes,
                "shadows": shadows,
                "strategy": deployment.strategy,
                "sticky_key": deployment.sticky_key,
                "previous_routes": None if previous is None else [r.to_dict() for r in previous],
                "inputs": deployment.input_policy.to_config(),
                "reason": reason,
                "policy": policy,
            },
        )

    def _row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        query = select(deployments).where(deployments.c.name == name)
        if lock:
            query = query.with_for_update()  # SQLite ignores it: BEGIN IMMEDIATE locks already
        return conn.execute(query).first()

    def _resolve(self, model_ref: str, *, servable: bool = True) -> Route:
        """The concrete version `model_ref` names now, as a 100 % route."""
        if not isinstance(model_ref, str) or not model_ref.strip():
            raise ValidationError(
                f"model reference must be text like model:bikes/3 or model:bikes@champion, "
                f"got {model_ref!r}"
            )
        version = self.registry.get_version(model_ref.strip())
        route = Route(version.model, version.version)
        if servable and version.state not in SERVABLE:
            raise _not_servable(route, version.state)
        return route

    def _check_versions(
        self, conn: Connection, routes: Sequence[Route], states: tuple[str, ...]
    ) -> None:
        """Each version exists and is in one of `states` (one query, in the transaction)."""
        keys = {r.key for r in routes}
        if not keys:
            return
        found = {
            (m, v): s
            for m, v, s in conn.execute(
                select(
                    model_versions.c.model, model_versions.c.version, model_versions.c.state
                ).where(
                    or_(
                        *(
                            and_(model_versions.c.model == m, model_versions.c.version == v)
                            for m, v in keys
                        )
                    )
                )
            ).all()
        }
        for route in routes:
            state = found.get(route.key)
            if state is None:
                raise NotFoundError(
                    f"no model version {route.uri}; `loopml models list {route.model}` shows "
                    "its versions"
                )
            if state not in states:
                raise _not_servable(route, state)


def _override(actor: Principal, reason: str | None) -> str | None:
    """The reason of an admin's override of the traffic policy (None: no override)."""
    if reason is None:
        return None
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError(
            "an override of the traffic policy needs a reason: say why in a sentence "
            "(--reason '…', SDK override_reason='…'); it is kept in the audit trail"
        )
    require(actor, "admin", "override the traffic policy")
    return reason.strip()


def _smoke_test(registry: RegistryService, route: Route) -> None:
    smoke_test(registry.load(route.uri), route.uri)


def _row_values(deployment: Deployment, *, creating: bool = True) -> dict[str, Any]:
    values = deployment.to_dict()
    del values["uri"]
    if not creating:
        for key in ("name", "created_by", "created_at"):
            del values[key]
    return values


def _check_sticky(key: str | None) -> None:
    if key is not None:
        check_key("sticky", key)


def _check_config(config: dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise ValidationError(f"config must be a dict with string keys, got {config!r}")
    try:
        checked = dict(json.loads(json.dumps(config, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"config must hold JSON values only (text, numbers, lists, dicts): {exc}"
        ) from exc
    InputPolicy.from_config(checked)  # unknown_categories / extra_columns: known choices
    return checked


def _missing(name: str) -> NotFoundError:
    return NotFoundError(f"no deployment {name!r}; `loopml deploy list` shows them")


def _exists(name: str) -> ConflictError:
    return ConflictError(
        f"deployment {name!r} already exists; change its routing with `loopml deploy update`, "
        "or pick another name"
    )


def _not_servable(route: Route, state: str) -> ValidationError:
    return ValidationError(
        f"{route.uri} is {state}; only REGISTERED versions can take traffic "
        f"(`loopml models list {route.model}` shows their states)"
    )
