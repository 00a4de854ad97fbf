"""Fixtures for the UI: a seeded workspace with a principal and token per role, the app
in-process (httpx over ASGITransport, HTTPS so the Secure cookie is sent), sign-in."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from loopml.config import init_workspace
from loopml.config.settings import Settings, load_settings
from loopml.sdk import Client
from loopml.server.app import create_app
from loopml.server.bootstrap import server_principal
from loopml.store.principal import FixedActor
from tests.server.ui.seed import Seeded, seed

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Workspace:
    settings: Settings
    tokens: dict[str, str]
    seeded: Seeded
    local: Client  # the workspace's own operating-system user, for checks behind the UI


def owner_client(root: Path) -> Client:
    """A client of the workspace at `root` acting as its owner (no token)."""
    local = Client(load_settings(root, token_check_interval_s=0))
    local.stores.identity = FixedActor(server_principal())
    return local


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """One seeded workspace per session; each test gets a copy (seeding takes seconds)."""
    root = init_workspace(tmp_path_factory.mktemp("ui-template") / "ws")
    local = owner_client(root)
    seeded = seed(local, runs=4, steps=20)
    local.close()
    return root, seeded


@pytest.fixture
def workspace(tmp_path: Path, seeded_template: tuple[Path, Seeded]) -> Iterator[Workspace]:
    template, seeded = seeded_template
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    local = owner_client(root)
    yield Workspace(local.settings, seeded.tokens, seeded, local)
    local.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def http(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(workspace.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://ui.test") as client:
            yield client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    """Open the login page, post the token with the form's CSRF value; the answer."""
    form = await http.get("/ui/login")
    assert form.status_code == 200
    return await http.post(
        "/ui/login", data={"csrf": csrf_of(form.text), "token": token, "next": "/ui/"}
    )
