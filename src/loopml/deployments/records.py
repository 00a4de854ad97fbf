"""Read-only views of deployments: routes (model version → traffic weight) and revisions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from loopml.deployments.input_policy import InputPolicy
from loopml.errors import ValidationError
from loopml.validation import check_name

STRATEGIES = ("single", "canary", "blue-green")

_ROUTE = re.compile(r"^(?:model:)?(?P<model>[^/=@\s]+)/(?P<version>\d+)(?:=(?P<weight>[^=]+))?$")


@dataclass(frozen=True)
class Route:
    """One concrete model version and the share of traffic it gets, in percent.

    For a shadow route, `weight` is the percentage of requests mirrored to it.
    """

    model: str
    version: int
    weight: float = 100.0

    def __post_init__(self) -> None:
        check_name("model", self.model)
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValidationError(
                f"route version must be an integer ≥ 1, got {self.version!r} "
                f"(write model:{self.model}/VERSION)"
            )
        weight = self.weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValidationError(
                f"weight of {self.uri} must be a number of percent, got {weight!r}"
            )
        if not math.isfinite(weight) or weight < 0 or weight > 100:
            raise ValidationError(
                f"weight of {self.uri} must be between 0 and 100 percent, got {weight!r}"
            )
        object.__setattr__(self, "weight", float(weight))

    @property
    def uri(self) -> str:
        return f"model:{self.model}/{self.version}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.model, self.version)

    def with_weight(self, weight: float) -> Route:
        return Route(self.model, self.version, weight)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "weight": self.weight}

    @classmethod
    def from_dict(cls, data: Any) -> Route:
        """`{"model": "bikes", "version": 3, "weight": 90}` (weight defaults to 100)."""
        if isinstance(data, Route):
            return data
        if not isinstance(data, dict) or not {"model", "version"} <= set(data):
            raise ValidationError(
                f"a route must be a Route or a dict with 'model', 'version' and 'weight', "
                f"got {data!r}"
            )
        unknown = set(data) - {"model", "version", "weight", "uri"}
        if unknown:
            raise ValidationError(
                f"route {data!r} has unknown keys {sorted(unknown)}; use model, version, weight"
            )
        return cls(data["model"], data["version"], data.get("weight", 100.0))


def parse_route(text: str, *, default_weight: float = 100.0) -> Route:
    """`model:bikes/3=90`, `bikes/3=90` or `model:bikes/5` (the default weight)."""
    match = _ROUTE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValidationError(
            f"{text!r} is not a route; write model:NAME/VERSION=WEIGHT (e.g. model:bikes/3=90)"
        )
    raw = match.group("weight")
    try:
        weight = default_weight if raw is None else float(raw)
    except ValueError:
        raise ValidationError(
            f"weight in {text!r} must be a number of percent (e.g. model:bikes/3=90)"
        ) from None
    return Route(match.group("model"), int(match.group("version")), weight)


def routes_from(items: Any, kind: str = "routes") -> list[Route]:
    """A list of Route objects or dicts as Routes."""
    if isinstance(items, Route | dict | str) or not isinstance(items, list | tuple):
        raise ValidationError(f"{kind} must be a list of Route objects or dicts, got {items!r}")
    return [Route.from_dict(item) for item in items]


def describe(routes: list[Route] | None) -> str:
    """`model:bikes/3 90%, model:bikes/4 10%`."""
    if not routes:
        return "none"
    return ", ".join(f"{r.uri} {r.weight:g}%" for r in routes)


@dataclass(frozen=True)
class Deployment:
    """A named endpoint: which model versions serve how much traffic, at which revision."""

    name: str
    revision: int
    routes: list[Route]
    shadows: list[Route]
    strategy: str
    sticky_key: str | None
    previous_routes: list[Route] | None
    config: dict[str, Any] = field(default_factory=dict)
    created_by: str = ""
    created_at: float = 0.0
    updated_by: str = ""
    updated_at: float = 0.0

    @property
    def uri(self) -> str:
        return f"deployment:{self.name}"

    @property
    def input_policy(self) -> InputPolicy:
        """What the endpoint does with unseen categories and extra columns."""
        return InputPolicy.from_config(self.config)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uri": self.uri,
            "revision": self.revision,
            "routes": [r.to_dict() for r in self.routes],
            "shadows": [r.to_dict() for r in self.shadows],
            "strategy": self.strategy,
            "sticky_key": self.sticky_key,
            "previous_routes": (
                None
                if self.previous_routes is None
                else [r.to_dict() for r in self.previous_routes]
            ),
            "config": dict(self.config),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


def deployment_from_row(row: Any) -> Deployment:
    m = row._mapping
    previous = m["previous_routes"]
    return Deployment(
        name=m["name"],
        revision=int(m["revision"]),
        routes=[Route.from_dict(r) for r in m["routes"]],
        shadows=[Route.from_dict(r) for r in m["shadows"]],
        strategy=m["strategy"],
        sticky_key=m["sticky_key"],
        previous_routes=None if previous is None else [Route.from_dict(r) for r in previous],
        config=dict(m["config"] or {}),
        created_by=m["created_by"],
        created_at=m["created_at"],
        updated_by=m["updated_by"],
        updated_at=m["updated_at"],
    )
