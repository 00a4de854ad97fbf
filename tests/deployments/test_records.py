"""Routes and deployments as values: validation, parsing, dict round trips."""

from __future__ import annotations

import math

import pytest

from loopml.deployments import Deployment, Route, parse_route
from loopml.deployments.records import describe, routes_from
from loopml.errors import ValidationError


def test_route_has_a_uri_and_round_trips_through_a_dict() -> None:
    route = Route("bikes", 3, 90)
    assert route.uri == "model:bikes/3"
    assert route.weight == 90.0 and isinstance(route.weight, float)
    assert route.to_dict() == {"model": "bikes", "version": 3, "weight": 90.0}
    assert Route.from_dict(route.to_dict()) == route
    assert Route.from_dict({"model": "bikes", "version": 3}).weight == 100.0


@pytest.mark.parametrize(
    ("model", "version", "weight", "fragment"),
    [
        ("bikes", 0, 100, "version must be an integer ≥ 1"),
        ("bikes", True, 100, "version must be an integer"),
        ("bikes", "3", 100, "version must be an integer"),
        ("bikes", 1, -1, "between 0 and 100"),
        ("bikes", 1, 100.5, "between 0 and 100"),
        ("bikes", 1, math.nan, "between 0 and 100"),
        ("bikes", 1, "90", "must be a number"),
        ("no such/name", 1, 100, "model name"),
    ],
)
def test_a_malformed_route_is_refused(
    model: str, version: int, weight: float, fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        Route(model, version, weight)


@pytest.mark.parametrize(
    "data", [{"model": "bikes"}, ["bikes", 3], {"model": "bikes", "version": 1, "share": 3}]
)
def test_a_malformed_route_dict_is_refused(data: object) -> None:
    with pytest.raises(ValidationError, match="route"):
        Route.from_dict(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model:bikes/3=90", Route("bikes", 3, 90)),
        ("bikes/3=12.5", Route("bikes", 3, 12.5)),
        ("model:bikes/5", Route("bikes", 5, 100)),
        (" model:bikes-v2.x/10=0 ", Route("bikes-v2.x", 10, 0)),
    ],
)
def test_parse_route(text: str, expected: Route) -> None:
    assert parse_route(text) == expected


@pytest.mark.parametrize(
    "text", ["model:bikes@champion=90", "bikes", "bikes/3=", "bikes/3=ten", "bikes/x=1"]
)
def test_parse_route_refuses_what_is_not_a_concrete_route(text: str) -> None:
    with pytest.raises(ValidationError, match=r"route|weight"):
        parse_route(text)


def test_routes_from_wants_a_list() -> None:
    assert routes_from([{"model": "a", "version": 1}, Route("b", 2, 0)]) == [
        Route("a", 1),
        Route("b", 2, 0),
    ]
    with pytest.raises(ValidationError, match="must be a list"):
        routes_from(Route("a", 1))


def test_deployment_to_dict_is_plain_data() -> None:
    deployment = Deployment(
        name="api",
        revision=2,
        routes=[Route("a", 1, 90), Route("a", 2, 10)],
        shadows=[Route("a", 3)],
        strategy="canary",
        sticky_key="user",
        previous_routes=[Route("a", 1)],
    )
    data = deployment.to_dict()
    assert data["uri"] == "deployment:api"
    assert data["routes"][1] == {"model": "a", "version": 2, "weight": 10.0}
    assert data["previous_routes"] == [{"model": "a", "version": 1, "weight": 100.0}]
    assert describe(deployment.routes) == "model:a/1 90%, model:a/2 10%"
    assert describe(None) == "none"
