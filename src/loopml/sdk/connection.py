"""`loopml.connect`: one entry point for both modes of the SDK.

A URL (`http://host:8080`), or `LOOPML_SERVER_URL` in the environment when no workspace
or store is named, gives a `RemoteClient` that talks to `loopml server` with an API token
(`token=` or `LOOPML_TOKEN`); anything else opens a workspace's stores directly (`Client`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loopml.errors import ConfigError, ValidationError
from loopml.sdk.client import Client
from loopml.sdk.client import connect as connect_workspace
from loopml.sdk.remote import RemoteClient, RemoteOptions

SERVER_URL_ENV = "LOOPML_SERVER_URL"
TOKEN_ENV = "LOOPML_TOKEN"
AnyClient = Client | RemoteClient


def server_url(target: str | Path | None, store_url: str | None) -> str | None:
    """The server a `connect` call means, or None for local mode."""
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        return target
    if target is None and store_url is None:
        return os.environ.get(SERVER_URL_ENV) or None
    return None


def connect(
    target: str | Path | None = None,
    *,
    token: str | None = None,
    store_url: str | None = None,
    artifacts_url: str | None = None,
    create: bool = True,
    remote: RemoteOptions | None = None,
    **settings: Any,
) -> Client | RemoteClient:
    """A client on a server URL (remote mode) or a workspace folder (local mode).

    Remote: `connect("http://host:8080", token=...)`, or LOOPML_SERVER_URL and LOOPML_TOKEN;
    `remote` tunes buffering, retries and the journal folder. Local: as
    `loopml.sdk.client.connect` (a workspace path, or store URLs and settings)."""
    url = server_url(target, store_url)
    if url is not None:
        if artifacts_url is not None or settings:
            raise ValidationError(
                f"store settings ({', '.join(sorted(settings)) or 'artifacts_url'}) do not "
                "apply to a remote client: the server holds the stores"
            )
        found = token or os.environ.get(TOKEN_ENV)
        if not found:
            raise ConfigError(
                f"connecting to {url} needs an API token: pass token=... or set {TOKEN_ENV} "
                "(an admin creates one with `loopml auth token create NAME`)"
            )
        return RemoteClient(url, found, remote)
    if remote is not None:
        raise ValidationError("remote= applies to a server URL, not to a workspace")
    if token is not None:
        settings["token"] = token
    return connect_workspace(
        target, store_url=store_url, artifacts_url=artifacts_url, create=create, **settings
    )
