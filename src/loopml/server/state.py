"""What one control-plane app holds, hung on `app.state.server`: the stores and the
services over them, the token sessions, the limits and the metrics."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from loopml.artifacts.direct import DirectTransfers
from loopml.config.settings import Settings
from loopml.sdk import Client
from loopml.server.identity import TokenSessions
from loopml.server.metrics import ServerMetrics

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerOptions:
    """Limits of one server; the workspace settings say where the stores are."""

    max_body_bytes: int = 16 * MIB  # a JSON request (a batch of metric points is ~1 MiB)
    max_upload_bytes: int = 64 * 1024 * MIB  # a streamed artifact or dataset file
    token_cache_size: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_upload_bytes", "token_cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class ServerState:
    """The services are the local SDK's (`Client`): routes call what local mode calls."""

    client: Client
    options: ServerOptions
    metrics: ServerMetrics
    sessions: TokenSessions
    upload_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    direct: DirectTransfers | None = None  # presigned URLs, when the store is S3 and they are on

    @property
    def settings(self) -> Settings:
        return self.client.settings


async def server_state(request: Request) -> ServerState:
    """The app's state, for route dependencies (async: no worker thread for a lookup)."""
    state: ServerState = request.app.state.server
    return state
