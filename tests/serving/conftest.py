"""Fixtures: models trained on real data, registered, deployed, and a served app.

`client` and `any_client` act on a workspace whose traffic policy is open: serving tests are
about what a deployment serves, not about which versions the policy admits
(tests/deployments/test_policy.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.deployments import Deployment, Route
from loopml.registry import ModelVersion
from loopml.registry.packaging import infer_signature
from loopml.sdk import Client
from tests.deployments.conftest import any_client, client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Cancer:
    frame: pd.DataFrame
    target: np.ndarray[Any, Any]

    def records(self, n: int = 1, start: int = 0) -> list[dict[str, float]]:
        rows = self.frame.iloc[start : start + n].to_dict(orient="records")
        return [{str(k): float(v) for k, v in row.items()} for row in rows]


@pytest.fixture(scope="session")
def cancer() -> Cancer:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return Cancer(X, y.to_numpy())


def register_cancer(client: Client, cancer: Cancer, trees: int = 5, seed: int = 0) -> ModelVersion:
    """A GradientBoostingClassifier fitted on an ndarray (served from arrays, no pandas)."""
    model = GradientBoostingClassifier(n_estimators=trees, max_depth=2, random_state=seed)
    model.fit(cancer.frame.to_numpy(), cancer.target)
    signature = infer_signature(cancer.frame, model.predict(cancer.frame.to_numpy()[:50]))
    with client.start_run("cancer", capture_code=False) as run:
        version = run.log_model(model, name="cancer", signature=signature)
    assert isinstance(version, ModelVersion)
    return version


def shops_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "temp": rng.normal(20, 5, rows).round(1),
            "season": rng.choice(["spring", "summer", "autumn", "winter"], rows),
            "visits": rng.integers(0, 50, rows),
            "user": [f"u{i % 40}" for i in range(rows)],
        }
    )


def register_shops(client: Client) -> ModelVersion:
    """A pipeline fitted on a DataFrame with a category column (served from DataFrames)."""
    frame = shops_frame()
    y = (frame["temp"] > 20).astype(int)
    x = frame[["temp", "season", "visits"]]
    pipeline = make_pipeline(
        ColumnTransformer([("season", OneHotEncoder(), ["season"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(x, y)
    with client.start_run("shops", capture_code=False) as run:
        version = run.log_model(pipeline, name="shops", input_example=x)
    assert isinstance(version, ModelVersion)
    return version


# ---------------------------------------------------------------------- deployments
def route(version: ModelVersion, weight: float = 100.0) -> Route:
    return Route(model=version.model, version=version.version, weight=weight)


def deploy(
    client: Client,
    name: str,
    routes: list[Route],
    *,
    shadows: list[Route] | None = None,
    sticky_key: str | None = None,
    config: dict[str, Any] | None = None,
) -> Deployment:
    """Create deployment `name` (or change its routing) to exactly these routes."""
    service = client.deployments
    if not service.revisions([name]):
        created = service.create(name, routes[0].uri, sticky_key=sticky_key, config=config)
        if len(routes) == 1 and not shadows:
            return created
    strategy = "single" if len(routes) == 1 else "canary"
    return service.update(name, routes, shadows=shadows or [], strategy=strategy)


@pytest.fixture
def cancer_v1(client: Client, cancer: Cancer) -> ModelVersion:
    return register_cancer(client, cancer)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in-process: its lifespan runs, requests go through ASGITransport."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serving") as http:
            yield http


Serve = Callable[..., Any]

__all__ = ["any_client", "client"]
