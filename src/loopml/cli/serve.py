"""`loopml serve`: the REST data plane (predictions from deployments), in one uvicorn process
or in `--workers N` processes sharing the port."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from loopml.cli.context import CliState
from loopml.cli.context import workspace_client_of as client_of
from loopml.errors import ValidationError
from loopml.serving import BatchingConfig, create_app
from loopml.serving.auth import AUTH_MODES, AuthMode
from loopml.serving.batching import DEFAULT_BATCHING
from loopml.serving.connections import HEADER_TIMEOUT_S, MAX_CONNECTIONS
from loopml.serving.workers import Supervisor, WorkerOptions, free_reuseport, uvicorn_config

SERVE_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml serve                                (every deployment, on 127.0.0.1:8000)\n"
    "  loopml serve bikes --host 0.0.0.0 --port 9000\n"
    "  loopml serve bikes --batch-rows 0            (micro-batching off)\n"
    "  loopml serve bikes --workers 2               (two processes on one port)\n\n"
    "  curl --json '{\"records\": [{...}]}' localhost:8000/v1/deployments/bikes/predict"
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
            "deployment's config.batching wins). A lone request never waits.",
        ),
    ] = DEFAULT_BATCHING.max_rows,
    batch_wait_ms: Annotated[
        float,
        typer.Option("--batch-wait-ms", min=0, help="Longest wait for a micro-batch to fill."),
    ] = DEFAULT_BATCHING.max_wait_ms,
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
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Serving processes sharing the port (SO_REUSEPORT); each follows the routes "
            "itself, /metrics adds up all of them.",
        ),
    ] = 1,
) -> None:
    """Serve predictions over REST: canary and sticky routing, shadows, hot swap.

    Routes follow the store: a canary, promotion or rollback made anywhere reaches this
    server within --poll-interval, without dropping a request. Endpoints:
    POST /v1/deployments/NAME/predict, POST /invocations (MLflow clients),
    POST /v1/deployments/NAME/feedback, GET /v1/deployments, /healthz, /readyz, /metrics, /docs.
    """
    batching = BatchingConfig(batch_rows, batch_wait_ms) if batch_rows > 0 else None
    if workers > 1:
        state = ctx.ensure_object(CliState)
        options = WorkerOptions(
            workspace=state.workspace,
            token=state.token,
            deployments=deployments or None,
            host=host,
            port=port or free_reuseport(host),
            poll_interval_s=poll_interval,
            log_predictions=log_predictions,
            batching=batching,
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            auth=_auth_mode(auth),
            log_level=log_level,
            max_connections=max_connections,
            header_timeout_s=header_timeout,
        )
        client_of(ctx)  # fail here, once, if the workspace cannot be opened
        raise typer.Exit(Supervisor(options, workers).run())
    client = client_of(ctx)
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
