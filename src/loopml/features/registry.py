"""The feature registry: versioned definitions, a plan of what `apply` would change, and the
compatibility rules that keep models working (no type changes, no removing used features)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from loopml.artifacts import hash_bytes
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.features.definitions import (
    KINDS,
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    from_spec,
    parse_feature_ref,
)
from loopml.governance import append_event, require
from loopml.store import Stores
from loopml.store.schema import feature_definitions

KIND_LABEL = {
    "entity": "entity",
    "view": "feature view",
    "on_demand": "on-demand view",
    "service": "feature service",
}


@dataclass(frozen=True)
class Change:
    """What `apply` does (or refuses to do) to one definition."""

    kind: str
    name: str
    action: str  # create | update | unchanged | refused
    version: int  # the version it would have after apply
    details: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{KIND_LABEL[self.kind]} {self.name}"


@dataclass(frozen=True)
class StoredDefinition:
    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    created_by: str
    created_at: float
    definition: Definition = field(compare=False)


def _spec_hash(spec: dict[str, Any]) -> str:
    return hash_bytes(json.dumps(spec, sort_keys=True).encode())


class FeatureRegistry:
    """Reads and writes versioned feature definitions in the metadata store."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    # ------------------------------------------------------------------ reading
    def latest(self, kind: str | None = None) -> dict[tuple[str, str], StoredDefinition]:
        """The live (newest) version of every definition, keyed by (kind, name)."""
        newest = (
            select(
                feature_definitions.c.kind,
                feature_definitions.c.name,
                func.max(feature_definitions.c.version).label("version"),
            )
            .group_by(feature_definitions.c.kind, feature_definitions.c.name)
            .subquery()
        )
        query = select(feature_definitions).join(
            newest,
            (feature_definitions.c.kind == newest.c.kind)
            & (feature_definitions.c.name == newest.c.name)
            & (feature_definitions.c.version == newest.c.version),
        )
        if kind is not None:
            query = query.where(feature_definitions.c.kind == kind)
        with self.stores.engine.connect() as conn:
            rows = conn.execute(query.order_by(feature_definitions.c.name)).all()
        return {(r.kind, r.name): _stored(r) for r in rows}

    def get(self, kind: str, name: str, version: int | None = None) -> StoredDefinition:
        query = select(feature_definitions).where(
            feature_definitions.c.kind == kind, feature_definitions.c.name == name
        )
        if version is None:
            query = query.order_by(feature_definitions.c.version.desc()).limit(1)
        else:
            query = query.where(feature_definitions.c.version == version)
        with self.stores.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(
                f"no {KIND_LABEL.get(kind, kind)} {name!r}"
                + (f" version {version}" if version is not None else "")
                + "; `loopml features list` shows what is registered"
            )
        return _stored(row)

    def history(self, kind: str, name: str) -> list[StoredDefinition]:
        with self.stores.engine.connect() as conn:
            rows = conn.execute(
                select(feature_definitions)
                .where(feature_definitions.c.kind == kind, feature_definitions.c.name == name)
                .order_by(feature_definitions.c.version)
            ).all()
        return [_stored(r) for r in rows]

    def view(self, name: str) -> FeatureView:
        definition = self.get("view", name).definition
        assert isinstance(definition, FeatureView)
        return definition

    def entity(self, name: str) -> Entity:
        definition = self.get("entity", name).definition
        assert isinstance(definition, Entity)
        return definition

    def service(self, name: str) -> FeatureService:
        definition = self.get("service", name).definition
        assert isinstance(definition, FeatureService)
        return definition

    # ------------------------------------------------------------------ planning
    def plan(self, definitions: Iterable[Definition]) -> list[Change]:
        """What `apply(definitions)` would do; refused changes say why and how to fix them."""
        new = _index(definitions)
        stored = self.latest()
        merged = {key: s.definition for key, s in stored.items()} | new
        changes = []
        for (kind, name), definition in sorted(new.items(), key=lambda kv: KINDS.index(kv[0][0])):
            old = stored.get((kind, name))
            problems = _references(definition, merged)
            if old is not None:
                problems += _incompatibilities(old.definition, definition, merged)
            if problems:
                version = old.version if old else 0
                changes.append(Change(kind, name, "refused", version, tuple(problems)))
            elif old is None:
                changes.append(Change(kind, name, "create", 1, ()))
            elif old.spec == definition.spec():
                changes.append(Change(kind, name, "unchanged", old.version, ()))
            else:
                details = tuple(_describe(old.spec, definition.spec()))
                changes.append(Change(kind, name, "update", old.version + 1, details))
        return changes

    def apply(self, definitions: Iterable[Definition]) -> list[Change]:
        """Register every new or changed definition as a new version, all or nothing."""
        require(self.stores.actor, "write", "apply feature definitions")
        items = list(definitions)
        changes = self.plan(items)
        refused = [c for c in changes if c.action == "refused"]
        if refused:
            reasons = "; ".join(f"{c.label}: {' '.join(c.details)}" for c in refused)
            raise ValidationError(f"nothing applied: {reasons}")
        by_key = _index(items)
        now = time.time()
        with self.stores.engine.begin() as conn:
            for change in changes:
                if change.action not in ("create", "update"):
                    continue
                current = conn.execute(
                    select(func.max(feature_definitions.c.version)).where(
                        feature_definitions.c.kind == change.kind,
                        feature_definitions.c.name == change.name,
                    )
                ).scalar()
                if (current or 0) != change.version - 1:
                    raise ConflictError(
                        f"{change.label} changed while applying (now version {current}); "
                        "run `loopml features plan` again"
                    )
                spec = by_key[(change.kind, change.name)].spec()
                conn.execute(
                    feature_definitions.insert().values(
                        kind=change.kind,
                        name=change.name,
                        version=change.version,
                        spec=spec,
                        spec_hash=_spec_hash(spec),
                        created_by=self.stores.actor.name,
                        created_at=now,
                    )
                )
                append_event(
                    conn,
                    self.stores.actor,
                    f"features.{change.action}",
                    f"features:{change.kind}/{change.name}@{change.version}",
                    {"details": list(change.details)},
                )
        return changes


def _stored(row: Any) -> StoredDefinition:
    return StoredDefinition(
        kind=row.kind,
        name=row.name,
        version=row.version,
        spec=row.spec,
        created_by=row.created_by,
        created_at=row.created_at,
        definition=from_spec(row.kind, row.name, row.spec),
    )


def _index(definitions: Iterable[Definition]) -> dict[tuple[str, str], Definition]:
    found: dict[tuple[str, str], Definition] = {}
    for definition in definitions:
        if not isinstance(definition, Entity | FeatureView | OnDemandFeatureView | FeatureService):
            raise ValidationError(
                f"cannot apply a {type(definition).__name__}: pass Entity, FeatureView, "
                "OnDemandFeatureView or FeatureService objects"
            )
        key = (definition.kind, definition.name)
        if key in found and found[key] != definition:
            raise ValidationError(
                f"{KIND_LABEL[definition.kind]} {definition.name!r} is defined twice, differently"
            )
        found[key] = definition
    return found


def feature_names_of(definition: Definition | None) -> list[str]:
    if isinstance(definition, FeatureView | OnDemandFeatureView):
        return definition.feature_names
    return []


def _resolves(ref: str, merged: dict[tuple[str, str], Definition]) -> str | None:
    """None when `view:feature` names an existing feature, else the problem."""
    view, feature = parse_feature_ref(ref)
    target = merged.get(("view", view)) or merged.get(("on_demand", view))
    if target is None:
        return f"{ref!r} names no registered feature view or on-demand view {view!r}"
    if feature != "*" and feature not in feature_names_of(target):
        return f"{ref!r}: view {view!r} has no feature {feature!r}"
    return None


def _references(definition: Definition, merged: dict[tuple[str, str], Definition]) -> list[str]:
    problems: list[str] = []
    if isinstance(definition, FeatureView):
        for entity in definition.entities:
            if ("entity", entity) not in merged:
                problems.append(f"entity {entity!r} is not defined; apply it with the view")
    refs: tuple[str, ...] = ()
    if isinstance(definition, FeatureService):
        refs = definition.features
    elif isinstance(definition, OnDemandFeatureView):
        refs = definition.inputs
    for ref in refs:
        problem = _resolves(ref, merged)
        if problem:
            problems.append(problem)
    return problems


def _incompatibilities(
    old: Definition, new: Definition, merged: dict[tuple[str, str], Definition]
) -> list[str]:
    problems: list[str] = []
    if isinstance(old, Entity) and isinstance(new, Entity) and old.join_keys != new.join_keys:
        users = [n for (k, n), d in merged.items() if k == "view" and old.name in d.entities]  # type: ignore[union-attr]
        if users:
            problems.append(
                f"join keys change from {list(old.join_keys)} to {list(new.join_keys)} while "
                f"views {users} use it; define a new entity instead"
            )
    if isinstance(old, FeatureView | OnDemandFeatureView) and isinstance(
        new, FeatureView | OnDemandFeatureView
    ):
        new_types = {f.name: f.dtype for f in new.features}
        for feature in old.features:
            dtype = new_types.get(feature.name)
            if dtype is not None and dtype != feature.dtype:
                problems.append(
                    f"feature {feature.name!r} changes type {feature.dtype} -> {dtype}, which "
                    "breaks models trained on it; add a feature with a new name instead"
                )
            if dtype is None:
                users = [
                    n
                    for (k, n), d in merged.items()
                    if k in ("service", "on_demand")
                    and any(
                        r in (f"{old.name}:{feature.name}",)
                        for r in (d.features if k == "service" else d.inputs)  # type: ignore[union-attr]
                    )
                ]
                if users:
                    problems.append(
                        f"feature {feature.name!r} is removed but {users} still use it; "
                        "remove it from them first (in the same apply)"
                    )
    if (
        isinstance(old, FeatureView)
        and isinstance(new, FeatureView)
        and old.entities != new.entities
    ):
        problems.append(
            f"entities change from {list(old.entities)} to {list(new.entities)}; "
            "define a new view instead"
        )
    return problems


def _describe(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    details = []
    old_features = {f["name"]: f for f in old.get("features", []) if isinstance(f, dict)}
    new_features = {f["name"]: f for f in new.get("features", []) if isinstance(f, dict)}
    for name in new_features.keys() - old_features.keys():
        details.append(f"+ feature {name} ({new_features[name]['dtype']})")
    for name in old_features.keys() - new_features.keys():
        details.append(f"- feature {name}")
    for name in old_features.keys() & new_features.keys():
        if old_features[name] != new_features[name]:
            details.append(f"~ feature {name}")
    for key in sorted(set(old) | set(new)):
        if key != "features" and old.get(key) != new.get(key):
            details.append(f"~ {key}: {old.get(key)!r} -> {new.get(key)!r}")
    return sorted(details)
