"""What every command shares: the global options and a lazily opened client.

With `LOOPML_SERVER_URL` set (and no `--workspace`), the client is a `RemoteClient` on that
server, acting as the principal of `--token` or `LOOPML_TOKEN`. Commands reach it through
`operations_of` (deployments, rollouts, monitors, triggers, pipelines: both modes) or
`client_of` (what still needs the workspace itself).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import typer

from loopml.errors import ConfigError
from loopml.sdk.api.deployments import DeploymentsAPI
from loopml.sdk.api.monitors import MonitorsAPI
from loopml.sdk.api.pipelines import PipelinesAPI
from loopml.sdk.api.rollouts import RolloutsAPI
from loopml.sdk.api.triggers import TriggersAPI
from loopml.sdk.client import Client, connect
from loopml.sdk.connection import SERVER_URL_ENV
from loopml.sdk.connection import connect as connect_any
from loopml.sdk.remote import RemoteClient


class Operations(Protocol):
    """The namespaces every mode offers the operations commands."""

    @property
    def deployments(self) -> DeploymentsAPI: ...

    @property
    def rollouts(self) -> RolloutsAPI: ...

    @property
    def monitors(self) -> MonitorsAPI: ...

    @property
    def triggers(self) -> TriggersAPI: ...

    @property
    def pipelines(self) -> PipelinesAPI: ...


@dataclass
class CliState:
    """Set by the root callback; `client` stays None until a command needs the store.

    `token` (from `--token`) wins over LOOPML_TOKEN and the workspace's settings.
    """

    workspace: Path | None = None
    token: str | None = None
    client: Client | RemoteClient | None = None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def _opened(ctx: typer.Context) -> Client | RemoteClient:
    """The client, opened on first use (remote when LOOPML_SERVER_URL names a server and no
    --workspace is given) and closed when the command ends."""
    state = ctx.ensure_object(CliState)
    if state.client is None:
        url = os.environ.get(SERVER_URL_ENV)
        if url and state.workspace is None:
            state.client = connect_any(url, token=state.token)
        else:
            state.client = connect(state.workspace, create=False, token=state.token)
        ctx.call_on_close(state.close)
    return state.client


def operations_of(ctx: typer.Context) -> Operations:
    """Deployments, rollouts, monitors, triggers and pipelines, in either mode."""
    return _opened(ctx)


def client_of(ctx: typer.Context) -> Client:
    """The workspace's client, for commands that need the workspace itself."""
    client = _opened(ctx)
    if isinstance(client, RemoteClient):
        raise ConfigError(
            f"`{ctx.command_path}` works on a workspace, not through a server: pass "
            f"--workspace PATH (or unset {SERVER_URL_ENV})"
        )
    return client
