"""`create_app`: the data-plane FastAPI app over a client's stores (no import-time globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from loopml.sdk import Client
from loopml.serving import endpoints
from loopml.serving.batching import BatchingConfig
from loopml.serving.metrics import ServingMetrics
from loopml.serving.openapi import (
    FEEDBACK_BODY,
    FEEDBACK_RESPONSES,
    PREDICT_BODY,
    PREDICT_RESPONSES,
)
from loopml.serving.shadow import ShadowScorer
from loopml.serving.state import MAX_BODY_BYTES, ServingState
from loopml.serving.watcher import DeploymentWatcher, ModelCache
from loopml.version import __version__


def create_app(
    client: Client,
    deployments: list[str] | None = None,
    *,
    poll_interval_s: float = 1.0,
    log_predictions: bool = True,
    batching: BatchingConfig | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The REST data plane for `deployments` (default: every deployment in the store).

    `batching` turns micro-batching on for every deployment; a deployment's own
    `config={"batching": {"max_rows": 32, "max_wait_ms": 2}}` (or `false`) wins.

    The lifespan loads the routes, starts the revision watcher and the prediction log, and
    on shutdown stops them, finishing shadow jobs and flushing the log.
    """
    if poll_interval_s <= 0 or max_body_bytes <= 0:
        raise ValueError("poll_interval_s and max_body_bytes must be positive")
    metrics = ServingMetrics()
    cache = ModelCache(client.models.registry.load, metrics)
    watcher = DeploymentWatcher(
        client.deployments,
        cache,
        metrics,
        deployments,
        poll_interval_s=poll_interval_s,
        batching=batching,
    )
    state = ServingState(
        stores=client.stores,
        watcher=watcher,
        cache=cache,
        metrics=metrics,
        shadows=ShadowScorer(metrics, lambda record: state.record(record)),
        log_predictions=log_predictions,
        max_body_bytes=max_body_bytes,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(state.start)
        try:
            yield
        finally:
            await run_in_threadpool(state.stop)

    app = FastAPI(
        title="loopml serving",
        version=__version__,
        description="Predictions from loopml deployments: canary, sticky, shadow, hot swap.",
        lifespan=lifespan,
    )
    app.state.serving = state
    api = app.add_api_route
    api(
        "/v1/deployments/{name}/predict",
        endpoints.predict,
        methods=["POST"],
        openapi_extra={"requestBody": PREDICT_BODY},
        responses=PREDICT_RESPONSES,
        tags=["predict"],
    )
    api(
        "/invocations",
        endpoints.invocations,
        methods=["POST"],
        openapi_extra={"requestBody": PREDICT_BODY},
        responses=PREDICT_RESPONSES,
        tags=["predict"],
    )
    api(
        "/v1/deployments/{name}/feedback",
        endpoints.feedback,
        methods=["POST"],
        openapi_extra={"requestBody": FEEDBACK_BODY},
        responses=FEEDBACK_RESPONSES,
        tags=["predict"],
    )
    api("/v1/deployments", endpoints.list_deployments, methods=["GET"], tags=["deployments"])
    api("/v1/deployments/{name}", endpoints.get_deployment, methods=["GET"], tags=["deployments"])
    api("/healthz", endpoints.healthz, methods=["GET"], tags=["health"])
    api("/readyz", endpoints.readyz, methods=["GET"], tags=["health"])
    api("/metrics", endpoints.metrics, methods=["GET"], tags=["health"])
    return app
