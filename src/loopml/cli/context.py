"""What every command shares: the global options and a lazily opened client.

A command reaches loopml through `client_of`, which gives the same namespaces in both
modes: a `RemoteClient` when a server is named (`--server` or LOOPML_SERVER_URL, unless
`--workspace` is given), else the workspace's `Client`. `operations_of` types the same client
by the namespaces of the operations commands (deployments, rollouts, monitors, triggers,
pipelines). Commands that only make sense next
to the stores (init, server, serve, logs, the controller, …) use `workspace_client_of` or
`refuse_remote`, which refuse remote mode with a message saying how to leave it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import typer

from loopml.errors import ValidationError
from loopml.sdk.api.deployments import DeploymentsAPI
from loopml.sdk.api.monitors import MonitorsAPI
from loopml.sdk.api.pipelines import PipelinesAPI
from loopml.sdk.api.rollouts import RolloutsAPI
from loopml.sdk.api.triggers import TriggersAPI
from loopml.sdk.client import Client
from loopml.sdk.connection import SERVER_URL_ENV, AnyClient, connect


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
    """Set by the root callback; `client` stays None until a command needs it.

    `token` (from `--token`) wins over LOOPML_TOKEN and the workspace's settings; `server`
    (from `--server`) wins over LOOPML_SERVER_URL.
    """

    workspace: Path | None = None
    token: str | None = None
    server: str | None = None
    client: AnyClient | None = None

    def server_url(self) -> str | None:
        """The server commands talk to, or None for the workspace (local mode)."""
        if self.server is not None:
            return self.server
        if self.workspace is not None:
            return None
        return os.environ.get(SERVER_URL_ENV) or None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def client_of(ctx: typer.Context) -> AnyClient:
    """The command's client (remote or local), opened on first use and closed when the
    command ends."""
    state = ctx.ensure_object(CliState)
    if state.client is None:
        url = state.server_url()
        if url is not None:
            state.client = connect(url, token=state.token)
        else:
            state.client = connect(state.workspace, create=False, token=state.token)
        ctx.call_on_close(state.close)
    return state.client


def operations_of(ctx: typer.Context) -> Operations:
    """Deployments, rollouts, monitors, triggers and pipelines, in either mode."""
    return client_of(ctx)


def refuse_remote(ctx: typer.Context) -> None:
    """Stop a command that runs against a workspace when a server is named."""
    state = ctx.ensure_object(CliState)
    url = state.server_url()
    if url is not None:
        how = "drop --server" if state.server is not None else f"unset {SERVER_URL_ENV}"
        raise ValidationError(
            f"`{ctx.command_path}` runs against a workspace, not through a server ({url}); "
            f"{how} or pass --workspace"
        )


def workspace_client_of(ctx: typer.Context) -> Client:
    """The workspace's client, for commands that need the stores themselves."""
    refuse_remote(ctx)
    client = client_of(ctx)
    if not isinstance(client, Client):  # refuse_remote leaves local mode only
        raise ValidationError(f"`{ctx.command_path}` needs a workspace")
    return client
