"""`loopml serve`: the REST data plane (predictions from deployments) in one uvicorn process."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from loopml.cli.context import client_of
from loopml.errors import ValidationError
from loopml.serving import BatchingConfig, create_app
from loopml.serving.auth import AUTH_MODES, AuthMode
from loopml.serving.connections import (
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS,
    fd_budget,
    guarded_protocol,
)

SERVE_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml serve                                (every deployment, on 127.0.0.1:8000)\n"
    "  loopml serve bikes --host 0.0.0.0 --port 9000\n"
    "  loopml serve bikes --batch-rows 64 --batch-wait-ms 2   (micro-batching on)\n\n"
    "  curl --json '{\"records\": [{...}]}' localhost:8000/v1/deployments/bikes/predict"
)


def uvicorn_config(
    app: object,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    max_connections: int = MAX_CONNECTIONS,
    header_timeout_s: float = HEADER_TIMEOUT_S,
) -> uvicorn.Config:
    """One process, uvloop and httptools (guarded against idle and slow connections), no
    access log: the settings serving is measured with."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(fd_budget(max_connections), header_timeout_s),
        access_log=False,
        log_level=log_level,
        workers=1,
        timeout_graceful_shutdown=30,
    )


def serve(
    ctx: typer.Context,
    deployments: Annotated[
        list[str] | None,
        typer.Argument(
            help="Deployments to serve (default: every deployment, including new ones).",
            metavar="DEPLOYMENT",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    poll_interval: Annotated[
        float,
        typer.Option("--poll-interval", min=0.05, help="Seconds between checks for new routes."),
    ] = 1.0,
    batch_rows: Annotated[
        int,
        typer.Option(
            "--batch-rows",
            min=0,
            help="Micro-batch concurrent requests up to this many rows (0: off; a "
            "deployment's config.batching wins).",
        ),
    ] = 0,
    batch_wait_ms: Annotated[
        float,
        typer.Option("--batch-wait-ms", min=0, help="Longest wait for a micro-batch to fill."),
    ] = 2.0,
    max_body_mb: Annotated[
        float, typer.Option("--max-body-mb", min=0.001, help="Largest request body accepted.")
    ] = 8.0,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            min=1,
            help="Open connections kept at most; past it, a new one closes the oldest idle one "
            "(capped by the file-descriptor limit).",
        ),
    ] = MAX_CONNECTIONS,
    header_timeout: Annotated[
        float,
        typer.Option(
            "--header-timeout",
            min=0.1,
            help="Seconds a connection may take to send its request headers before it is closed.",
        ),
    ] = HEADER_TIMEOUT_S,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log/--no-log", help="Record predictions and feedback in the prediction log."
        ),
    ] = True,
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth",
            help="tokens: predict and feedback need a deployment token (`loopml deploy token "
            "create`); open: no token asked, for local demos. Default: the serving_auth setting.",
            metavar="tokens|open",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn log level (debug, info, warning).")
    ] = "info",
) -> None:
    """Serve predictions over REST: canary and sticky routing, shadows, hot swap.

    Routes follow the store: a canary, promotion or rollback made anywhere reaches this
    server within --poll-interval, without dropping a request. Endpoints:
    POST /v1/deployments/NAME/predict, POST /invocations (MLflow clients),
    POST /v1/deployments/NAME/feedback, GET /v1/deployments, /healthz, /readyz, /metrics, /docs.
    """
    client = client_of(ctx)
    batching = BatchingConfig(batch_rows, batch_wait_ms) if batch_rows > 0 else None
    app = create_app(
        client,
        deployments or None,
        poll_interval_s=poll_interval,
        log_predictions=log_predictions,
        batching=batching,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        auth=_auth_mode(auth),
    )
    config = uvicorn_config(
        app,
        host,
        port,
        log_level,
        max_connections=max_connections,
        header_timeout_s=header_timeout,
    )
    uvicorn.Server(config).run()


def _auth_mode(value: str | None) -> AuthMode | None:
    if value is None:
        return None
    for mode in AUTH_MODES:
        if value == mode:
            return mode
    raise ValidationError(f"--auth must be one of {', '.join(AUTH_MODES)}, got {value!r}")
