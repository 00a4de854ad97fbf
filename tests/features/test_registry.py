from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.features import Entity, FeatureService, FeatureStore, FeatureView
from loopml.governance import list_events
from tests.features.conftest import rides, station_definitions


def test_apply_versions_definitions_and_plan_shows_changes(
    store: FeatureStore, tmp_path: Path
) -> None:
    source = str(rides(tmp_path))
    first = store.apply(station_definitions(source))  # type: ignore[arg-type]
    assert [(c.kind, c.action, c.version) for c in first] == [
        ("entity", "create", 1),
        ("view", "create", 1),
        ("service", "create", 1),
    ]
    again = store.plan(station_definitions(source))  # type: ignore[arg-type]
    assert {c.action for c in again} == {"unchanged"}
    station, view, service = station_definitions(source, ttl_h=4)
    plan = store.plan([station, view, service])  # type: ignore[list-item]
    assert plan[1].action == "update" and plan[1].version == 2
    assert any("ttl_s" in d for d in plan[1].details)
    store.apply([station, view, service])  # type: ignore[list-item]
    history = store.registry.history("view", "station_stats")
    assert [h.version for h in history] == [1, 2]
    assert history[1].spec["ttl_s"] == 4 * 3600
    actions = [e.action for e in list_events(store.stores.engine)]
    assert "features.create" in actions and "features.update" in actions


def test_a_type_change_is_refused_and_nothing_is_written(
    store: FeatureStore, tmp_path: Path
) -> None:
    source = str(rides(tmp_path))
    store.apply(station_definitions(source))  # type: ignore[arg-type]
    changed = FeatureView("station_stats", "station", source, {"rides": "int64", "docks": "int64"})
    plan = store.plan([changed])
    assert plan[0].action == "refused"
    assert "changes type float64 -> int64" in plan[0].details[0]
    with pytest.raises(ValidationError, match=r"nothing applied.*changes type"):
        store.apply([changed])
    assert len(store.registry.history("view", "station_stats")) == 1


def test_removing_a_feature_a_service_uses_is_refused_unless_the_service_drops_it(
    store: FeatureStore, tmp_path: Path
) -> None:
    source = str(rides(tmp_path))
    store.apply(station_definitions(source))  # type: ignore[arg-type]
    smaller = FeatureView("station_stats", "station", source, {"rides": "float64"})
    with pytest.raises(ValidationError, match="'docks' is removed but \\['demand'\\]"):
        store.apply([smaller])
    changes = store.apply([smaller, FeatureService("demand", ["station_stats:rides"])])
    assert {c.action for c in changes} == {"update"}


def test_references_must_exist(store: FeatureStore, tmp_path: Path) -> None:
    view = FeatureView("v", "ghost", str(rides(tmp_path)), ["rides"])
    with pytest.raises(ValidationError, match="entity 'ghost' is not defined"):
        store.apply([view])
    with pytest.raises(ValidationError, match="no registered feature view"):
        store.apply([FeatureService("s", ["nope:x"])])
    with pytest.raises(NotFoundError, match="features list"):
        store.registry.get("view", "v")


def test_join_keys_of_a_used_entity_cannot_change(store: FeatureStore, tmp_path: Path) -> None:
    store.apply(station_definitions(str(rides(tmp_path))))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="join keys change"):
        store.apply([Entity("station", ["station", "city"])])
