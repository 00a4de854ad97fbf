"""The routing each strategy leads to, and the checks every plan must pass."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sklearn.linear_model import Ridge

from loopml.deployments import Route
from loopml.deployments.strategies import (
    canary_routes,
    check_plan,
    smoke_test,
    strategy_for,
    without,
)
from loopml.errors import ValidationError
from loopml.registry import load_model, save_model
from loopml.registry.packaging import infer_signature
from tests.deployments.helpers import BikeHours, BrokenModel


def test_a_valid_split_passes() -> None:
    check_plan("api", [Route("a", 1, 33.3), Route("a", 2, 66.7)], [Route("a", 3)], "canary")
    check_plan("api", [Route("a", 1)], [], "single")
    thirds = [Route("a", v, 100 / 3) for v in (1, 2, 3)]
    check_plan("api", thirds, [], "canary")  # 99.999… within the tolerance


@pytest.mark.parametrize(
    ("routes", "shadows", "strategy", "fragment"),
    [
        ([Route("a", 1, 90)], [], "single", "add up to 90, not 100"),
        ([Route("a", 1, 90), Route("a", 2, 10.1)], [], "canary", "add up to 100.1"),
        ([], [], "canary", "at least one route"),
        ([Route("a", 1)], [], "rolling", "strategy"),
        ([Route("a", 1, 50), Route("a", 2, 50)], [], "single", "use strategy 'canary'"),
        ([Route("a", 1, 50), Route("a", 2, 50)], [], "blue-green", "sends all traffic"),
        ([Route("a", 1, 50), Route("a", 1, 50)], [], "canary", "appears twice among the routes"),
        ([Route("a", 1)], [Route("a", 2), Route("a", 2)], "single", "twice among the shadows"),
        ([Route("a", 1)], [Route("a", 1)], "single", "both a route and a shadow"),
    ],
)
def test_a_plan_that_cannot_be_served_is_refused(
    routes: list[Route], shadows: list[Route], strategy: str, fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        check_plan("api", routes, shadows, strategy)


def test_canary_scales_the_stable_routes_to_the_rest() -> None:
    routes = canary_routes("api", [Route("a", 1)], Route("a", 2), 10)
    assert routes == [Route("a", 1, 90), Route("a", 2, 10)]
    # A second canary on top of a split keeps the split's proportions.
    routes = canary_routes("api", [Route("a", 1, 75), Route("a", 2, 25)], Route("a", 3), 20)
    assert routes == [Route("a", 1, 60), Route("a", 2, 20), Route("a", 3, 20)]
    # Raising the candidate's share re-weights it instead of adding it twice.
    routes = canary_routes("api", [Route("a", 1, 90), Route("a", 2, 10)], Route("a", 2), 50)
    assert routes == [Route("a", 1, 50), Route("a", 2, 50)]


def test_canary_weights_always_sum_to_exactly_100() -> None:
    current = [Route("a", v, 100 / 3) for v in (1, 2, 3)]
    routes = canary_routes("api", current, Route("a", 4), 7.3)
    assert math.fsum(r.weight for r in routes) == pytest.approx(100, abs=1e-12)
    check_plan("api", routes, [], "canary")


@pytest.mark.parametrize("weight", [0, 100, -5, 150, True])
def test_canary_weight_must_be_strictly_between_0_and_100(weight: float) -> None:
    with pytest.raises(ValidationError, match="canary weight"):
        canary_routes("api", [Route("a", 1)], Route("a", 2), weight)


def test_canary_needs_another_version_taking_traffic() -> None:
    with pytest.raises(ValidationError, match="no other version taking traffic"):
        canary_routes("api", [Route("a", 2)], Route("a", 2), 10)


def test_helpers() -> None:
    assert without([Route("a", 1), Route("a", 2)], ("a", 1)) == [Route("a", 2)]
    assert strategy_for([Route("a", 1)]) == "single"
    assert strategy_for([Route("a", 1, 50), Route("a", 2, 50)]) == "canary"


def test_smoke_test_predicts_on_the_input_example(hours: BikeHours, tmp_path: Path) -> None:
    model = Ridge().fit(hours.x, hours.y)
    signature = infer_signature(hours.x, model.predict(hours.x))
    save_model(model, tmp_path / "ok", signature=signature, input_example=hours.x.head(5))
    smoke_test(load_model(tmp_path / "ok"), "model:bikes/1")


def test_smoke_test_names_the_failure(hours: BikeHours, tmp_path: Path) -> None:
    save_model(
        BrokenModel(),
        tmp_path / "bad",
        flavor="python",
        signature=infer_signature(hours.x),
        input_example=hours.x.head(5),
    )
    with pytest.raises(ValidationError, match=r"smoke test of model:bikes/2 failed.*temp_squared"):
        smoke_test(load_model(tmp_path / "bad"), "model:bikes/2")


def test_smoke_test_without_an_example_passes(tmp_path: Path) -> None:
    save_model(BrokenModel(), tmp_path / "bare", flavor="python")
    smoke_test(load_model(tmp_path / "bare"), "model:bikes/3")
