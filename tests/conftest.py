"""Shared fixtures: workspaces on every backend, real PostgreSQL and a real S3 server.

Service-backed tests skip with a reason on a machine without the service, and fail when
CI=true, where every backend is mandatory.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import loopml
from loopml.config import init_workspace, load_settings
from loopml.sdk import Client

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("LOOPML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the service is required."""
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


# ---------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}")
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A store URL on a fresh schema of the real PostgreSQL server, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{pg_server}?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


# ---------------------------------------------------------------------- S3 (moto server)
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) on loopback for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto[server] is not installed (pip install -e '.[dev]')")
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_url(s3_server: str) -> str:
    """A fresh bucket on the S3 server, as an s3:// URL with a prefix."""
    import fsspec

    bucket = "b" + uuid.uuid4().hex[:12]
    fs = fsspec.filesystem(
        "s3", client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True
    )
    fs.mkdir(bucket)
    return f"s3://{bucket}/loopml"


# ---------------------------------------------------------------------- workspaces
BACKENDS = ["sqlite-local", "postgres-local", "sqlite-s3"]


@pytest.fixture
def make_client(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Client]]:
    """Build clients on a backend combination; all are closed at the end of the test."""
    made: list[Client] = []

    def factory(backend: str = "sqlite-local", root: Path | None = None, **settings: Any) -> Client:
        root = init_workspace(root or tmp_path / "ws")
        if backend.startswith("postgres"):
            settings.setdefault("store_url", request.getfixturevalue("pg_url"))
        if backend.endswith("s3"):
            settings.setdefault("artifacts_url", request.getfixturevalue("s3_url"))
            settings.setdefault("s3_endpoint_url", request.getfixturevalue("s3_server"))
        client = Client(load_settings(root, environ={}, **settings))
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
    loopml.set_client(None)


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    """A client on the embedded default: SQLite and a local artifact folder."""
    return make_client()


@pytest.fixture(params=BACKENDS)
def any_client(request: pytest.FixtureRequest, make_client: Callable[..., Client]) -> Client:
    """The same test on every backend combination."""
    return make_client(request.param)


@pytest.fixture
def spawn_context(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> multiprocessing.context.SpawnContext:
    """A 'spawn' context whose children can import the test module that holds their target.

    With `--import-mode=importlib` pytest does not put test folders on `sys.path`; a spawned
    child unpickles its target by module name, so the folder is added for this test only.
    """
    module = request.module
    depth = module.__name__.count(".")
    monkeypatch.syspath_prepend(str(Path(module.__file__).resolve().parents[depth]))
    return multiprocessing.get_context("spawn")
