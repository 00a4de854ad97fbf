"""Rollout strategies as pure functions: the routing a change leads to, and its checks.

Nothing here touches the store: the service applies these inside its transaction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from loopml.deployments.records import STRATEGIES, Route
from loopml.errors import ValidationError
from loopml.registry import LoadedModel

WEIGHT_TOLERANCE = 1e-9


def check_plan(name: str, routes: list[Route], shadows: list[Route], strategy: str) -> None:
    """Refuse routing that cannot be served; each message says what to fix."""
    if strategy not in STRATEGIES:
        raise ValidationError(
            f"strategy of deployment {name!r} must be one of {', '.join(STRATEGIES)}, "
            f"got {strategy!r}"
        )
    if not routes:
        raise ValidationError(
            f"deployment {name!r} needs at least one route (e.g. model:bikes/3=100)"
        )
    total = math.fsum(r.weight for r in routes)
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        raise ValidationError(
            f"route weights of deployment {name!r} add up to {total:g}, not 100: "
            + ", ".join(f"{r.uri}={r.weight:g}" for r in routes)
            + "; adjust them so they sum to exactly 100"
        )
    if strategy in ("single", "blue-green") and len(routes) != 1:
        raise ValidationError(
            f"strategy {strategy!r} sends all traffic to one version, but deployment {name!r} "
            f"was given {len(routes)} routes; use strategy 'canary' to split traffic"
        )
    _no_duplicates(name, routes, "route")
    _no_duplicates(name, shadows, "shadow")
    served = {r.key for r in routes}
    both = [s.uri for s in shadows if s.key in served]
    if both:
        raise ValidationError(
            f"{', '.join(both)} of deployment {name!r} cannot be both a route and a shadow; "
            "drop it from the shadows"
        )


def _no_duplicates(name: str, routes: list[Route], kind: str) -> None:
    seen: set[tuple[str, int]] = set()
    for route in routes:
        if route.key in seen:
            raise ValidationError(
                f"{route.uri} appears twice among the {kind}s of deployment {name!r}; "
                "list each version once"
            )
        seen.add(route.key)


def canary_routes(name: str, current: list[Route], candidate: Route, weight: float) -> list[Route]:
    """The current routes scaled to `100 - weight`, plus the candidate at `weight`.

    A candidate that already takes traffic is re-weighted rather than added twice.
    """
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < 100:
        raise ValidationError(
            f"canary weight must be a percentage between 0 and 100 (exclusive), got {weight!r}; "
            "use promote to send all traffic to a version"
        )
    stable = [r for r in current if r.key != candidate.key]
    stable_total = math.fsum(r.weight for r in stable)
    if not stable or stable_total <= 0:
        raise ValidationError(
            f"deployment {name!r} has no other version taking traffic besides "
            f"{candidate.uri}; a canary needs a stable version to split traffic with"
        )
    share = 100.0 - float(weight)
    scaled = [r.with_weight(r.weight * share / stable_total) for r in stable]
    # Put the rounding remainder on the heaviest stable route so the sum is exactly 100.
    heaviest = max(range(len(scaled)), key=lambda i: scaled[i].weight)
    rest = math.fsum(r.weight for i, r in enumerate(scaled) if i != heaviest)
    scaled[heaviest] = scaled[heaviest].with_weight(max(share - rest, 0.0))
    return [*scaled, candidate.with_weight(float(weight))]


def without(routes: list[Route], *keys: tuple[str, int]) -> list[Route]:
    """`routes` minus the versions in `keys`."""
    return [r for r in routes if r.key not in keys]


def strategy_for(routes: list[Route]) -> str:
    """The strategy that describes plain routing: one version, or a traffic split."""
    return "single" if len(routes) == 1 else "canary"


def smoke_test(model: LoadedModel, uri: str) -> None:
    """Predict on the model's stored input example; raise ValidationError if it fails."""
    example: list[dict[str, Any]] | None = model.manifest.input_example
    if not example:
        return
    try:
        frame = pd.DataFrame.from_records(example)
        if model.signature is not None:
            frame = model.signature.coerce(frame)
        predictions = np.asarray(model.predict(frame))
    except Exception as exc:
        raise ValidationError(
            f"smoke test of {uri} failed: predicting its input example raised "
            f"{type(exc).__name__}: {exc}; the deployment was not changed — fix the model "
            "(or skip the check with smoke_test=False / --no-smoke-test)"
        ) from exc
    if predictions.shape[:1] != (len(frame),):
        raise ValidationError(
            f"smoke test of {uri} failed: {len(frame)} example rows gave predictions of shape "
            f"{predictions.shape}; the deployment was not changed — fix the model"
        )
