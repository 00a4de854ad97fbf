"""Fixtures: model versions trained on real data and registered through the SDK.

`client` and `any_client` here act on a workspace whose traffic policy is open: these tests
are about routing mechanics. The policy's own tests (test_policy.py) build their clients
with `make_client` and keep the default policy.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from tests.conftest import BACKENDS
from tests.deployments.helpers import (
    BikeHours,
    bike_hours,
    open_traffic,
    register_broken,
    register_ridge,
)

Register = Callable[..., list[ModelVersion]]


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    """The embedded default (SQLite, local folder), traffic policy open."""
    return open_traffic(make_client())


@pytest.fixture(params=BACKENDS)
def any_client(request: pytest.FixtureRequest, make_client: Callable[..., Client]) -> Client:
    """Every backend combination, traffic policy open."""
    return open_traffic(make_client(request.param))


@pytest.fixture(scope="session")
def hours() -> BikeHours:
    return bike_hours()


@pytest.fixture
def register(hours: BikeHours) -> Register:
    """`register(client, 3)` → versions 1..3 of model `bikes` (Ridge, growing alpha)."""

    def make(client: Client, count: int = 1, name: str = "bikes") -> list[ModelVersion]:
        return [register_ridge(client, hours, name, alpha=float(i + 1)) for i in range(count)]

    return make


@pytest.fixture
def broken(hours: BikeHours) -> Callable[[Client], ModelVersion]:
    def make(client: Client) -> ModelVersion:
        return register_broken(client, hours, "bikes")

    return make
