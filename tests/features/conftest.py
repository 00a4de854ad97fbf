"""Feature-store fixtures: a store on a fresh workspace, a real Redis, small sources."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from loopml.features import Entity, FeatureService, FeatureStore, FeatureView
from loopml.sdk import Client
from tests.conftest import unavailable

REDIS_URL = os.environ.get("LOOPML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = pd.Timestamp("2025-01-01", tz="UTC")


@pytest.fixture(scope="session")
def redis_server() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.close()
    except Exception as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    return REDIS_URL


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The Redis URL; keys live under a fresh namespace that is deleted afterwards."""
    yield redis_server


@pytest.fixture
def store(client: Client) -> Iterator[FeatureStore]:
    features = FeatureStore(client.stores)
    yield features
    features.close()


@pytest.fixture
def make_redis_store(client: Client, redis_url: str) -> Iterator[Callable[[], FeatureStore]]:
    made: list[FeatureStore] = []

    def factory() -> FeatureStore:
        features = FeatureStore(client.stores, online_url=redis_url)
        namespace = "t" + uuid.uuid4().hex[:10]
        features._online = __import__(
            "loopml.features.online.redis", fromlist=["RedisOnlineStore"]
        ).RedisOnlineStore(redis_url, namespace)
        made.append(features)
        return features

    yield factory
    for features in made:
        online = features._online
        if online is not None:
            for key in online.client.scan_iter(match=f"{online.namespace}:*"):  # type: ignore[attr-defined]
                online.client.delete(key)  # type: ignore[attr-defined]
        features.close()


def rides(tmp_path: Path) -> Path:
    """A small source: two stations, hourly counts."""
    frame = pd.DataFrame(
        {
            "station": [1, 1, 1, 2, 2],
            "event_timestamp": [T0 + pd.Timedelta(hours=h) for h in (0, 2, 5, 1, 3)],
            "rides": [10.0, 20.0, 30.0, 5.0, 7.0],
            "docks": [3, 4, 5, 6, 7],
        }
    )
    path = tmp_path / "rides.parquet"
    frame.to_parquet(path)
    return path


def station_definitions(source: str, ttl_h: float | None = None) -> list[object]:
    station = Entity("station", ["station"])
    view = FeatureView(
        "station_stats",
        station,
        source,
        {"rides": "float64", "docks": "int64"},
        ttl=None if ttl_h is None else ttl_h * 3600,
    )
    return [station, view, FeatureService("demand", ["station_stats:rides", "station_stats:docks"])]
