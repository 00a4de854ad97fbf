"""Route tables: weighted choice, sticky buckets, shadow mirroring; sticky routing end to end."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.serving.metrics import ServingMetrics
from loopml.serving.routing import RouteTable, Target, bucket
from tests.serving.conftest import Cancer, deploy, register_cancer, route, serve


def _table(weights: list[float], shadows: list[float] | None = None) -> RouteTable:
    meter = ServingMetrics().meter("d", "m")
    runner: Any = None

    def target(i: int, w: float) -> Target:
        return Target(f"model:m/{i + 1}", runner, w, meter)

    return RouteTable.build(
        "d",
        1,
        [target(i, w) for i, w in enumerate(weights)],
        [target(10 + i, w) for i, w in enumerate(shadows or [])],
    )


def test_weighted_choice_follows_the_weights() -> None:
    table = _table([90, 10, 0])
    picks = Counter(table.choose().uri for _ in range(20_000))  # type: ignore[union-attr]
    assert set(picks) == {"model:m/1", "model:m/2"}  # weight 0 takes nothing
    assert 0.08 < picks["model:m/2"] / 20_000 < 0.12


def test_sticky_keys_land_on_one_version_and_canary_growth_only_moves_users_forward() -> None:
    small, large = _table([90, 10]), _table([50, 50])
    users = [f"user-{i}" for i in range(2000)]
    first = {u: small.choose(u).uri for u in users}  # type: ignore[union-attr]
    assert all(small.choose(u).uri == first[u] for u in users)  # type: ignore[union-attr]
    moved = [u for u in users if large.choose(u).uri != first[u]]  # type: ignore[union-attr]
    assert moved and all(first[u] == "model:m/1" for u in moved)
    assert 0 <= bucket(12345) < 1 and bucket(12345) == bucket("12345")


def test_empty_tables_and_shadow_share() -> None:
    assert _table([]).choose() is None
    table = _table([100], shadows=[100, 25, 0])
    mirrored = Counter(s.uri for _ in range(4000) for s in table.mirrored())
    assert mirrored["model:m/11"] == 4000
    assert 800 < mirrored["model:m/12"] < 1200
    assert mirrored["model:m/13"] == 0


@pytest.mark.anyio
async def test_sticky_deployment_routes_one_user_to_one_model(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    v2 = register_cancer(client, cancer, seed=1)
    deploy(client, "cancer", [route(cancer_v1, 50), route(v2, 50)], sticky_key="mean radius")
    records = cancer.records(30)
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        for record in records[:10]:
            models = set()
            for _ in range(5):
                r = await http.post("/v1/deployments/cancer/predict", json=[record])
                models.add(r.json()["model"])
            assert len(models) == 1
        header = {"X-Loopml-Key": "customer-42"}
        models = set()
        for record in records:
            r = await http.post("/v1/deployments/cancer/predict", json=[record], headers=header)
            models.add(r.json()["model"])
        assert len(models) == 1
        spread = set()
        for record in records:
            r = await http.post("/v1/deployments/cancer/predict", json=[record])
            spread.add(r.json()["model"])
        assert spread == {cancer_v1.uri, v2.uri}
