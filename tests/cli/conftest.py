"""Fixtures for CLI tests: a workspace, an SDK client on it, and a runner for `loopml`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.registry import ModelVersion
from loopml.sdk import Client
from tests.cli.helpers import BikeTables, Invoke, bike_tables, train_bikes
from tests.deployments.helpers import open_traffic


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray LOOPML_* settings, a wide terminal, and no git repository around."""
    for key in list(os.environ):
        if key.startswith("LOOPML_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def traffic_open(client: Client) -> None:
    """Open the workspace's traffic policy, for tests about the deploy, rollout and monitor
    commands (test_deploy_policy.py tests the default policy)."""
    open_traffic(client)


@pytest.fixture
def workspace(client: Client) -> Path:
    """The workspace folder of the `client` fixture (SQLite + local artifacts)."""
    return client.settings.root


@pytest.fixture
def cli(workspace: Path) -> Invoke:
    """Run `loopml --workspace <workspace> ARGS…` in-process; `token=` acts as its principal
    (through LOOPML_TOKEN, as a shell user would)."""
    runner = CliRunner()

    def invoke(*args: str, token: str | None = None) -> Result:
        env = {"LOOPML_TOKEN": token} if token is not None else None
        return runner.invoke(app, ["--workspace", str(workspace), *args], env=env)

    return invoke


@pytest.fixture
def bikes_csv(tmp_path: Path) -> Path:
    path = tmp_path / "bikes.csv"
    pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=6).strftime("%Y-%m-%d"),
            "temp": [3.5, 4.0, None, 6.5, 7.0, 2.0],
            "season": ["winter", "winter", "winter", "spring", "spring", "winter"],
            "count": [120, 98, 143, 210, 188, 101],
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def bikes_parquet(tmp_path: Path) -> Path:
    """A later version: more rows, a new column, no missing temperatures."""
    path = tmp_path / "bikes.parquet"
    pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=8).strftime("%Y-%m-%d"),
            "temp": [3.5, 4.0, 5.0, 6.5, 7.0, 2.0, 9.5, 11.0],
            "season": ["winter"] * 3 + ["spring"] * 2 + ["winter"] + ["summer"] * 2,
            "count": [120, 98, 143, 210, 188, 101, 250, 275],
            "holiday": [False, True, False, False, False, False, False, True],
        }
    ).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def bikes() -> BikeTables:
    """The Bike Sharing hours, read once per test process."""
    return bike_tables()


Train = Callable[..., ModelVersion]


@pytest.fixture
def trained(client: Client, bikes: BikeTables) -> Train:
    """Train a Ridge through the SDK and register it: `trained(alpha=50.0)` → next version."""

    def make(alpha: float = 1.0, name: str = "bikes") -> ModelVersion:
        _, version = train_bikes(client, bikes, alpha=alpha, name=name)
        assert version is not None
        return version

    return make


@pytest.fixture
def summer(client: Client, bikes: BikeTables) -> str:
    """The summer hours as dataset `bikes-summer`: data the winter model never saw."""
    return client.log_dataset("bikes-summer", bikes.summer).uri
