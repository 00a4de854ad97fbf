"""Which features a request names: `"view:feature"` references or a feature service, resolved
against the registry into views (with their entities' join keys) and on-demand views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopml.errors import NotFoundError, ValidationError
from loopml.features.definitions import (
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    parse_feature_ref,
)
from loopml.features.reads import note_definition
from loopml.features.registry import FeatureRegistry


@dataclass(frozen=True)
class ViewSelection:
    view: FeatureView
    version: int
    keys: tuple[str, ...]  # join keys of its entities, in order
    features: tuple[str, ...]


@dataclass(frozen=True)
class OnDemandSelection:
    view: OnDemandFeatureView
    version: int
    features: tuple[str, ...]


@dataclass(frozen=True)
class Selection:
    """Resolved features: views to join, on-demand views to compute, output column names."""

    views: tuple[ViewSelection, ...]
    on_demand: tuple[OnDemandSelection, ...]
    service: str | None
    refs: tuple[str, ...]

    @property
    def keys(self) -> list[str]:
        found: list[str] = []
        for selection in self.views:
            found += [k for k in selection.keys if k not in found]
        return found

    @property
    def request_fields(self) -> list[str]:
        found: list[str] = []
        for selection in self.on_demand:
            found += [n for n, _ in selection.view.request_fields if n not in found]
        return found

    @property
    def columns(self) -> list[str]:
        return [f for v in self.views for f in v.features] + [
            f for o in self.on_demand for f in o.features
        ]


def select_features(registry: FeatureRegistry, features: Sequence[str] | str) -> Selection:
    """Resolve `features` (a list of references, or the name of a feature service)."""
    service = None
    if isinstance(features, str):
        service = features.removeprefix("service:")
        stored_service = registry.get("service", service)
        note_definition("service", service, stored_service.version)
        assert isinstance(stored_service.definition, FeatureService)
        refs = tuple(stored_service.definition.features)
    else:
        refs = tuple(features)
    if not refs:
        raise ValidationError("no features asked for: pass 'view:feature' references or a service")
    views: dict[str, list[str]] = {}
    on_demand: dict[str, list[str]] = {}
    stored_views: dict[str, tuple[FeatureView, int]] = {}
    stored_od: dict[str, tuple[OnDemandFeatureView, int]] = {}
    for ref in refs:
        name, feature = parse_feature_ref(ref)
        if name not in stored_views and name not in stored_od:
            try:
                found = registry.get("view", name)
                assert isinstance(found.definition, FeatureView)
                stored_views[name] = (found.definition, found.version)
            except NotFoundError:
                try:
                    od = registry.get("on_demand", name)
                except NotFoundError:
                    raise NotFoundError(
                        f"{ref!r}: no feature view or on-demand view {name!r}; "
                        "`loopml features list` shows what is registered"
                    ) from None
                assert isinstance(od.definition, OnDemandFeatureView)
                stored_od[name] = (od.definition, od.version)
        target = views if name in stored_views else on_demand
        definition = stored_views[name][0] if name in stored_views else stored_od[name][0]
        names = definition.feature_names if feature == "*" else [feature]
        for n in names:
            if n not in definition.feature_names:
                raise NotFoundError(
                    f"{ref!r}: view {name!r} has no feature {n!r}; it has "
                    f"{definition.feature_names}"
                )
            if n not in target.setdefault(name, []):
                target[name].append(n)
    # on-demand inputs must be fetched too, even when not asked for by name
    for name in on_demand:
        for ref in stored_od[name][0].inputs:
            view_name, feature = parse_feature_ref(ref)
            if view_name not in stored_views:
                found = registry.get("view", view_name)
                assert isinstance(found.definition, FeatureView)
                stored_views[view_name] = (found.definition, found.version)
            wanted = views.setdefault(view_name, [])
            for n in stored_views[view_name][0].feature_names if feature == "*" else [feature]:
                if n not in wanted:
                    wanted.append(n)
    view_selections = []
    for name, names in views.items():
        view, version = stored_views[name]
        keys: list[str] = []
        for entity in view.entities:
            keys += [k for k in registry.entity(entity).join_keys if k not in keys]
        view_selections.append(ViewSelection(view, version, tuple(keys), tuple(names)))
    for name, (_, version) in stored_views.items():
        note_definition("view", name, version)
    for name, (_, version) in stored_od.items():
        note_definition("on_demand", name, version)
    selection = Selection(
        tuple(view_selections),
        tuple(
            OnDemandSelection(stored_od[n][0], stored_od[n][1], tuple(f))
            for n, f in on_demand.items()
        ),
        service,
        refs,
    )
    columns = selection.columns
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValidationError(
            f"features {repeated} are named alike in several views; ask for them from one view "
            "only, or rename them"
        )
    return selection
