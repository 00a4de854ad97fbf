from __future__ import annotations

from datetime import timedelta

import pytest

from loopml.errors import ValidationError
from loopml.features import Entity, Feature, FeatureService, FeatureView, OnDemandFeatureView
from loopml.features.definitions import from_spec, parse_feature_ref


def test_a_view_round_trips_through_its_spec() -> None:
    view = FeatureView(
        "stats",
        Entity("station", "station"),
        "dataset:rides",
        [Feature("rides", "float"), Feature("busy", "bool", "rides > 10")],
        ttl=timedelta(hours=2),
    )
    assert view.entities == ("station",)
    assert view.features[0].dtype == "float64"
    assert from_spec("view", "stats", view.spec()) == view


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Entity("e", []), "at least one join key"),
        (lambda: Entity("e", ["bad key"]), "join key 'bad key' is invalid"),
        (lambda: FeatureView("v", "e", "x.parquet", {"a": "decimal"}), "unknown type"),
        (lambda: FeatureView("v", "e", "x.parquet", []), "declares no features"),
        (lambda: FeatureView("v", "e", "", ["a"]), "needs a source"),
        (lambda: FeatureView("v", "e", "x.parquet", ["a", "a"]), "repeated"),
        (lambda: FeatureView("v", "e", "x.parquet", ["a"], ttl=-1), "ttl must be a positive"),
        (lambda: FeatureService("s", []), "lists no features"),
        (lambda: FeatureService("s", ["nocolon"]), "'view:feature'"),
        (lambda: OnDemandFeatureView("o", lambda c: c, ["x"]), "module-level function"),
    ],
)
def test_bad_definitions_are_refused_with_the_fix(build: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()  # type: ignore[operator]


def test_feature_refs_parse() -> None:
    assert parse_feature_ref("v:f") == ("v", "f")
    assert parse_feature_ref("v:*") == ("v", "*")
