"""What every command shares: the global options and a lazily opened client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from loopml.sdk.client import Client, connect


@dataclass
class CliState:
    """Set by the root callback; `client` stays None until a command needs the store.

    `token` (from `--token`) wins over LOOPML_TOKEN and the workspace's settings.
    """

    workspace: Path | None = None
    token: str | None = None
    client: Client | None = None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def client_of(ctx: typer.Context) -> Client:
    """The workspace's client, opened on first use and closed when the command ends."""
    state = ctx.ensure_object(CliState)
    if state.client is None:
        state.client = connect(state.workspace, create=False, token=state.token)
        ctx.call_on_close(state.close)
    return state.client
