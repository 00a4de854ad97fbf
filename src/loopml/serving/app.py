"""`create_app`: the data-plane FastAPI app over a client's stores (no import-time globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from loopml.sdk import Client
from loopml.serving import endpoints
from loopml.serving.auth import AuthMode, DataPlaneAuth
from loopml.serving.batching import DEFAULT_BATCHING, BatchingConfig
from loopml.serving.feedback import FeedbackAudit
from loopml.serving.metrics import ServingMetrics
from loopml.serving.openapi import (
    FEEDBACK_BODY,
    FEEDBACK_RESPONSES,
    METRICS,
    NOT_READY,
    NOT_SERVED,
    PREDICT_BODY,
    PREDICT_RESPONSES,
)
from loopml.serving.schemas import build_openapi
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
    log_flush_interval_s: float = 1.0,
    batching: BatchingConfig | None = DEFAULT_BATCHING,
    max_body_bytes: int = MAX_BODY_BYTES,
    auth: AuthMode | None = None,
) -> FastAPI:
    """The REST data plane for `deployments` (default: every deployment in the store).

    `batching` is the micro-batching of every deployment (on by default: a lone request is
    scored at once, concurrent ones share predict calls; None turns it off); a deployment's
    own `config={"batching": {"max_rows": 32, "max_wait_ms": 2}}` (or `false`) wins.

    The lifespan loads the routes, starts the revision watcher and the prediction log, and
    on shutdown stops them, finishing shadow jobs and flushing the log.

    `log_flush_interval_s`: how often the prediction log hands its journal to the segment
    writer (each flush has a fixed cost; `--workers N` flushes each worker every N s).

    `auth` (default: the `serving_auth` setting) is `tokens` — predict and feedback need a
    deployment token with that scope — or `open` (no token asked; local demos only).
    """
    if poll_interval_s <= 0 or max_body_bytes <= 0 or log_flush_interval_s <= 0:
        raise ValueError(
            "poll_interval_s, max_body_bytes and log_flush_interval_s must be positive"
        )
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
    access = DataPlaneAuth(
        auth or client.settings.serving_auth, client.deployments.tokens.grants, deployments
    )
    state = ServingState(
        stores=client.stores,
        watcher=watcher,
        cache=cache,
        metrics=metrics,
        shadows=ShadowScorer(metrics, lambda record: state.record(record)),
        log_predictions=log_predictions,
        log_flush_interval_s=log_flush_interval_s,
        max_body_bytes=max_body_bytes,
        auth=access,
        feedback_audit=FeedbackAudit(client.stores) if log_predictions else None,
    )

    def after_poll() -> None:
        access.refresh()
        state.audit_feedback()
        state.after_poll()

    watcher.after_sync = after_poll

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
    api(
        "/v1/deployments/{name}",
        endpoints.get_deployment,
        methods=["GET"],
        responses=NOT_SERVED,
        tags=["deployments"],
    )
    api("/healthz", endpoints.healthz, methods=["GET"], tags=["health"])
    api("/readyz", endpoints.readyz, methods=["GET"], responses=NOT_READY, tags=["health"])
    api(
        "/metrics",
        endpoints.metrics,
        methods=["GET"],
        response_class=PlainTextResponse,
        responses=METRICS,
        tags=["health"],
    )
    app.add_exception_handler(StarletteHTTPException, endpoints.http_error)
    app.openapi = lambda: build_openapi(app, state)  # type: ignore[method-assign]
    return app
