"""`create_app`: the control-plane FastAPI app over a workspace's stores (no globals).

The app opens the stores once and builds the same domain services the local SDK uses;
every route under `/api/v1`, and of the MLflow API (server/mlflow/), resolves its caller's
token and runs the service call as that principal (routing.py). `/healthz`, `/readyz` and
`/metrics` are open, for probes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse

from loopml.artifacts.direct import DirectTransfers
from loopml.config.settings import Settings
from loopml.errors import ConfigError, LoopmlError
from loopml.sdk import Client
from loopml.server import errors, mlflow
from loopml.server.identity import RequestActor, TokenSessions
from loopml.server.json_body import add_body_schemas
from loopml.server.metrics import MetricsMiddleware, ServerMetrics
from loopml.server.routes import (
    artifacts,
    datasets,
    deployments,
    evaluations,
    governance,
    health,
    models,
    monitors,
    pipelines,
    rollouts,
    runs,
    transfers,
    triggers,
)
from loopml.server.state import ServerOptions, ServerState
from loopml.server.store_metrics import StoreCollector
from loopml.server.ui import UI_PREFIX, create_ui
from loopml.version import __version__

API_PREFIX = "/api/v1"
AREAS = (
    runs.api,
    artifacts.api,
    transfers.api,
    models.api,
    evaluations.api,
    datasets.api,
    governance.api,
    deployments.api,
    rollouts.api,
    monitors.api,
    triggers.api,
    pipelines.api,
)


def create_app(settings: Settings, options: ServerOptions | None = None) -> FastAPI:
    """The REST control plane of the stores `settings` name."""
    if settings.token:
        raise ConfigError(
            "the server acts as each request's principal; unset the token setting "
            "(LOOPML_TOKEN) for the server process"
        )
    options = options or ServerOptions()
    if settings.webhook_private_hosts is None:
        # Requests come from other people: their webhooks may not reach this network.
        settings = settings.model_copy(update={"webhook_private_hosts": False})
    client = Client(settings)
    client.stores.identity = RequestActor()
    metrics = ServerMetrics()
    metrics.registry.register(StoreCollector(client.stores.engine))
    state = ServerState(
        client=client,
        options=options,
        metrics=metrics,
        sessions=TokenSessions(
            client.models.identity, settings.token_check_interval_s, options.token_cache_size
        ),
        upload_dir=settings.local_path(settings.cache_dir) / "uploads",
        direct=_direct_transfers(settings, client),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(client.close)

    app = FastAPI(
        title="loopml server",
        version=__version__,
        description="The loopml control plane: runs, models, datasets, approvals, audit.",
        lifespan=lifespan,
    )
    app.state.server = state
    for area in AREAS:
        area.mount(app, API_PREFIX)
    app.mount(UI_PREFIX, create_ui(state))
    mlflow.mount(app)
    app.add_api_route("/healthz", health.healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", health.readyz, methods=["GET"], tags=["health"])
    app.add_api_route(
        "/metrics",
        health.metrics,
        methods=["GET"],
        tags=["health"],
        response_class=PlainTextResponse,
    )
    for kind, handler in (
        (errors.ApiError, errors.api_error),
        (LoopmlError, errors.loopml_error),
        (RequestValidationError, errors.validation_error),
        (StarletteHTTPException, errors.http_error),
        (Exception, errors.internal_error),
    ):
        app.add_exception_handler(kind, mlflow.mlflow_errors(handler))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _direct_transfers(settings: Settings, client: Client) -> DirectTransfers | None:
    """Presigned URLs when the settings ask for them (by default: on an S3 store)."""
    if settings.presigned_urls and not settings.artifacts_url.startswith("s3://"):
        client.close()
        raise ConfigError(
            "presigned_urls = true needs an s3:// artifact store; unset it for a local one"
        )
    if not settings.presigning():
        return None
    return DirectTransfers(
        client.stores.artifacts, settings.s3_endpoint_url, settings.presigned_url_expiry_s
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the bearer-token scheme every /api/v1 route asks for."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        add_body_schemas(document)
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearerToken"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (lml_…) from `loopml auth token create`.",
        }
        app.openapi_schema = document
    return app.openapi_schema
