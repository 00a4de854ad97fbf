"""`loopml server`: the control plane a team shares (REST API, and the controller loop)."""

from __future__ import annotations

import json
import logging.config
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from loopml.cli.context import CliState, refuse_remote
from loopml.config import find_workspace, load_settings
from loopml.config.settings import Settings
from loopml.errors import ConfigError, ValidationError
from loopml.server import ServerOptions, create_app
from loopml.server.bootstrap import announce, bootstrap_admin
from loopml.server.controller_thread import ControllerThread
from loopml.server.factory import OPTIONS_ENV, WORKSPACE_ENV
from loopml.server.logs import log_config

SERVER_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml server                                  (127.0.0.1:8080, with the controller)\n"
    "  loopml server --host 0.0.0.0 --port 8080 --workers 4 --no-controller\n\n"
    "  export LOOPML_SERVER_URL=http://localhost:8080 LOOPML_TOKEN=lml_…\n"
    "  python train.py          (loopml.start_run(...) now logs through the server)"
)
MIB = 1024 * 1024
WORKER_START_S = 120


def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Worker processes answering requests.")
    ] = 1,
    controller: Annotated[
        bool,
        typer.Option(
            "--controller/--no-controller",
            help="Run the controller loop (triggers, scheduled monitors, rollouts) in this "
            "process; --no-controller when `loopml controller` runs elsewhere.",
        ),
    ] = True,
    controller_interval: Annotated[
        float,
        typer.Option("--controller-interval", min=0.05, help="Seconds between controller passes."),
    ] = 5.0,
    controller_lease: Annotated[
        float,
        typer.Option(
            "--controller-lease",
            min=0.1,
            help="Seconds a server holds the controller lease without renewing it; with "
            "several servers, one drives and another takes over this long after it dies.",
        ),
    ] = 15.0,
    max_body_mb: Annotated[
        float, typer.Option("--max-body-mb", min=0.001, help="Largest JSON request accepted.")
    ] = 16.0,
    max_upload_gb: Annotated[
        float,
        typer.Option("--max-upload-gb", min=0.001, help="Largest streamed artifact or dataset."),
    ] = 64.0,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn log level (debug, info, warning).")
    ] = "info",
) -> None:
    """Serve the control plane: runs, models, datasets, approvals, audit over REST.

    The server is the one process that holds the store's credentials; every request carries
    an API token (Authorization: Bearer …) and acts as its principal. On the first start
    with no principal in the store it creates `admin` and prints its token once.
    Endpoints: /api/v1/… (see /docs), /healthz, /readyz, /metrics.
    """
    refuse_remote(ctx)  # the server itself holds the stores
    state = ctx.ensure_object(CliState)
    settings = _settings(state)
    logging.config.dictConfig(log_config(log_level))
    options = ServerOptions(
        max_body_bytes=int(max_body_mb * MIB), max_upload_bytes=int(max_upload_gb * 1024 * MIB)
    )
    token = bootstrap_admin(settings)
    if token is not None:
        print(announce(token), flush=True)
        del token
    if controller and controller_lease <= controller_interval:
        raise ValidationError(
            f"--controller-lease ({controller_lease:g} s) must be longer than "
            f"--controller-interval ({controller_interval:g} s): the lease is renewed each pass"
        )
    loop = ControllerThread(settings, controller_interval, controller_lease) if controller else None
    if loop is not None:
        loop.start()
    try:
        if workers == 1:
            app = create_app(settings, options)
            uvicorn.Server(_config(app, host, port, log_level)).run()
        else:
            os.environ[WORKSPACE_ENV] = str(settings.root)
            os.environ[OPTIONS_ENV] = json.dumps(options.__dict__)
            uvicorn.run(
                "loopml.server.factory:app_from_environment",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                log_config=log_config(log_level),
                timeout_graceful_shutdown=30,
                # a worker imports loopml and opens the store before it answers: give it
                # time on a busy machine instead of restarting it over and over
                timeout_worker_healthcheck=WORKER_START_S,
            )
    finally:
        if loop is not None:
            loop.stop()


def _settings(state: CliState) -> Settings:
    if state.token is not None or os.environ.get("LOOPML_TOKEN"):
        raise ConfigError(
            "the server acts as each request's principal: start it without --token and "
            "without LOOPML_TOKEN"
        )
    root = state.workspace.expanduser().resolve() if state.workspace else None
    root = root or find_workspace() or Path.cwd()
    if find_workspace(root) is None and "LOOPML_STORE_URL" not in os.environ:
        raise ConfigError(
            f"no loopml workspace at or above {root}; run `loopml init` there, pass "
            "--workspace, or set LOOPML_STORE_URL"
        )
    if root not in map(Path, sys.path):
        sys.path.insert(0, str(root))
    return load_settings(root)


def _config(app: object, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        log_config=log_config(log_level),
        timeout_graceful_shutdown=30,
    )
