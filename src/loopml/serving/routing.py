"""`RouteTable`: an immutable snapshot of one deployment's routes, models already loaded.

Requests read the table once and keep it until they answer, so a hot swap (a new table
assigned in one step) never changes a request's model half-way.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass
from typing import Any

from loopml.deployments import InputPolicy
from loopml.serving.batching import BatchingConfig
from loopml.serving.metrics import TargetMeter
from loopml.serving.scoring import ModelRunner
from loopml.serving.validation import STRICT

_SPACE = float(2**64)


@dataclass(frozen=True, slots=True)
class Target:
    """A model version a deployment routes to, with its traffic weight and bound metrics.

    For a shadow, `weight` is the percentage of requests mirrored to it.
    """

    uri: str
    runner: ModelRunner
    weight: float
    meter: TargetMeter


@dataclass(frozen=True)
class RouteTable:
    """What one deployment serves at one revision."""

    deployment: str
    revision: int
    targets: tuple[Target, ...]  # weight > 0, in the deployment's order
    shadows: tuple[Target, ...]
    sticky_key: str | None
    strategy: str
    cumulative: tuple[float, ...]
    batching: BatchingConfig | None = None
    features: str | None = None  # a feature service whose features each request gets
    inputs: InputPolicy = STRICT  # unseen categories and extra columns

    @classmethod
    def build(
        cls,
        deployment: str,
        revision: int,
        targets: list[Target],
        shadows: list[Target],
        sticky_key: str | None = None,
        strategy: str = "",
        batching: BatchingConfig | None = None,
        features: str | None = None,
        inputs: InputPolicy | None = None,
    ) -> RouteTable:
        live = tuple(t for t in targets if t.weight > 0)
        cumulative, total = [], 0.0
        for target in live:
            total += target.weight
            cumulative.append(total)
        return cls(
            deployment,
            revision,
            live,
            tuple(shadows),
            sticky_key,
            strategy,
            tuple(cumulative),
            batching,
            features,
            inputs or STRICT,
        )

    @property
    def uris(self) -> set[str]:
        return {t.uri for t in self.targets} | {t.uri for t in self.shadows}

    def choose(self, key: Any = None) -> Target | None:
        """A weighted random target, or the one `key` always lands on; None without routes."""
        targets = self.targets
        if len(targets) <= 1:
            return targets[0] if targets else None
        share = random.random() if key is None else bucket(key)
        index = bisect.bisect_right(self.cumulative, share * self.cumulative[-1])
        return targets[min(index, len(targets) - 1)]

    def mirrored(self) -> list[Target]:
        """The shadows this request is copied to (each mirrors `weight` percent of requests)."""
        return [s for s in self.shadows if s.weight >= 100 or random.random() * 100 < s.weight]


def bucket(key: Any) -> float:
    """A stable point in [0, 1) for a sticky key: the same user always gets the same one.

    With routes kept in the same order, raising a canary's weight only moves users from the
    stable version to the canary, never back and forth.
    """
    digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SPACE
