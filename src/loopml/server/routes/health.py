"""Liveness, readiness and Prometheus metrics: open routes for probes and scrapers."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from loopml.server.payloads import json_response
from loopml.server.state import ServerState, server_state
from loopml.version import __version__

log = logging.getLogger("loopml.server")
State = Annotated[ServerState, Depends(server_state)]


async def healthz() -> Response:
    """The process answers (nothing else is checked)."""
    return json_response({"status": "ok", "version": __version__})


async def readyz(state: State) -> Response:
    """The metadata store answers a query; 503 otherwise (take this replica out)."""
    try:
        await run_in_threadpool(_ping, state)
    except Exception as exc:  # the details go to the log, not to anonymous callers
        log.warning("readiness check failed: %s", exc)
        return json_response({"status": "unavailable", "store": type(exc).__name__}, 503)
    return json_response({"status": "ready", "version": __version__})


def _ping(state: ServerState) -> None:
    with state.client.stores.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
