"""Fixtures: real `loopml server` processes (SQLite; PostgreSQL + the S3 server), tokens
for every role, and clients of the SDK in local and remote mode for the contract suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sqlalchemy import create_engine, text

from loopml.config import init_workspace
from loopml.samples.bikeshare import bikeshare_features, load_bikeshare
from loopml.sdk import Client, RemoteClient, RemoteOptions
from tests.server.live import LiveServer, cli_environment, free_port, make_principal

ROLES = ("viewer", "editor", "approver", "admin")
MODES = [
    "local",
    "remote-sqlite",
    pytest.param("remote-postgres-s3", marks=[pytest.mark.postgres, pytest.mark.s3]),
]


def start_server(root: Path, extra_env: dict[str, str] | None = None, *args: str) -> LiveServer:
    init_workspace(root)
    server = LiveServer(root, free_port(), cli_environment(extra_env), ["--no-controller", *args])
    return server.start()


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server on an embedded workspace (SQLite + folder) for the whole session."""
    server = start_server(tmp_path_factory.mktemp("server-sqlite"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_s3_server(
    tmp_path_factory: pytest.TempPathFactory, pg_server: str, s3_server: str
) -> Iterator[LiveServer]:
    """One server on PostgreSQL (a schema of its own) and the S3 server (a bucket)."""
    schema = "srv_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    bucket = "srv" + uuid.uuid4().hex[:12]
    fs = fsspec.filesystem(
        "s3", client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True
    )
    fs.mkdir(bucket)
    server = start_server(
        tmp_path_factory.mktemp("server-pg"),
        {
            "LOOPML_STORE_URL": f"{pg_server}?options=-csearch_path%3D{schema}",
            "LOOPML_ARTIFACTS_URL": f"s3://{bucket}/loopml",
            "LOOPML_S3_ENDPOINT_URL": s3_server,
        },
    )
    yield server
    server.stop()
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _role_tokens(server: LiveServer) -> dict[str, str]:
    admin = server.admin_token()
    tokens = {"admin": admin}
    for role in ("viewer", "editor", "approver"):
        tokens[role] = make_principal(server, admin, f"{role}-{server.port}", role)
    return tokens


@pytest.fixture(scope="session")
def role_tokens(sqlite_server: LiveServer) -> dict[str, str]:
    """A token per role on the SQLite server (the admin's is the first start's)."""
    return _role_tokens(sqlite_server)


@pytest.fixture(scope="session")
def pg_role_tokens(pg_s3_server: LiveServer) -> dict[str, str]:
    return _role_tokens(pg_s3_server)


@pytest.fixture
def api(sqlite_server: LiveServer, role_tokens: dict[str, str]) -> Iterator[dict[str, Any]]:
    """An HTTP client per role on the SQLite server."""
    made = {
        role: httpx.Client(
            base_url=sqlite_server.url + "/api/v1",
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        for role, token in role_tokens.items()
    }
    yield made
    for http in made.values():
        http.close()


@pytest.fixture
def remote_options(tmp_path: Path) -> RemoteOptions:
    """Short intervals and a journal folder of the test's own."""
    return RemoteOptions(journal_dir=tmp_path / "journal", flush_interval_s=0.2, retry_s=60)


@pytest.fixture
def remote_client(
    sqlite_server: LiveServer, role_tokens: dict[str, str], remote_options: RemoteOptions
) -> Iterator[RemoteClient]:
    """An editor's remote client on the SQLite server."""
    client = RemoteClient(sqlite_server.url, role_tokens["editor"], remote_options)
    yield client
    client.close()


@pytest.fixture(params=MODES)
def tracking_client(
    request: pytest.FixtureRequest,
    make_client: Callable[..., Client],
    remote_options: RemoteOptions,
) -> Iterator[Client | RemoteClient]:
    """The contract suite's client: local, or remote over a server on SQLite, or over one
    on PostgreSQL + S3 (an editor's token)."""
    if request.param == "local":
        yield make_client()
        return
    if request.param == "remote-sqlite":
        server = request.getfixturevalue("sqlite_server")
        tokens = request.getfixturevalue("role_tokens")
    else:
        server = request.getfixturevalue("pg_s3_server")
        tokens = request.getfixturevalue("pg_role_tokens")
    client = RemoteClient(server.url, tokens["editor"], remote_options)
    yield client
    client.close()


@pytest.fixture
def experiment() -> str:
    """An experiment name no other test uses (the servers are shared)."""
    return "exp-" + uuid.uuid4().hex[:10]


@dataclass
class OpsClients:
    """The operations contract's clients of one mode: an editor, an admin and a viewer,
    two registered versions of a fresh model, and the folder a project module goes in so
    that the process that launches pipelines (the server, or this one) imports it."""

    mode: str
    editor: Client | RemoteClient
    admin: Client | RemoteClient
    viewer: Client | RemoteClient
    model: str
    project: Path


def log_table(client: Client | RemoteClient, name: str, frame: pd.DataFrame) -> str:
    """The frame as a dataset version (uploaded to the server in remote mode); its id."""
    if isinstance(client, Client):
        return client.log_dataset(name, frame).id
    body = frame.to_csv(index=False).encode()
    answer = client.http.call(
        "POST",
        f"/datasets/{name}/versions",
        params={"filename": f"{name}.csv"},
        content=lambda: body,
    )
    return str(answer["id"])


def register_versions(client: Client | RemoteClient, model: str) -> None:
    """Two versions of `model`: Ridge on the bundled bike hours (logged as their training
    dataset, which monitors take as their reference), with their signature."""
    frame = load_bikeshare().head(300)
    features = bikeshare_features(frame)
    target = frame["bikers"].astype(float)
    dataset = log_table(client, model + "-train", features.assign(bikers=target))
    for alpha in (1.0, 2.0):
        with client.start_run("ops-" + model, inputs=[dataset]) as run:
            fitted = Ridge(alpha=alpha).fit(features, target)
            run.log_model(fitted, name=model, input_example=features, training_data=features)


@pytest.fixture(params=MODES)
def ops_clients(
    request: pytest.FixtureRequest,
    make_client: Callable[..., Client],
    remote_options: RemoteOptions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[OpsClients]:
    model = "ops-" + uuid.uuid4().hex[:10]
    if request.param == "local":
        admin = make_client()  # the local user: an admin of the workspace
        identity = admin.models.identity
        clients: dict[str, Client | RemoteClient] = {"admin": admin}
        for role in ("editor", "viewer"):
            identity.create_principal(f"{role}-local", role)
            token = identity.create_token(f"{role}-local", label="tests")
            clients[role] = make_client(token=token)
        project = tmp_path / "project"
        project.mkdir()
        monkeypatch.syspath_prepend(str(project))
        opened: list[RemoteClient] = []
    else:
        if request.param == "remote-sqlite":
            server = request.getfixturevalue("sqlite_server")
            tokens = request.getfixturevalue("role_tokens")
        else:
            server = request.getfixturevalue("pg_s3_server")
            tokens = request.getfixturevalue("pg_role_tokens")
        opened = [RemoteClient(server.url, tokens[r], remote_options) for r in ROLES]
        clients = dict(zip(ROLES, opened, strict=True))
        project = server.root  # the server's working folder is on its import path
    register_versions(clients["editor"], model)
    yield OpsClients(
        request.param, clients["editor"], clients["admin"], clients["viewer"], model, project
    )
    for client in opened:
        client.close()
