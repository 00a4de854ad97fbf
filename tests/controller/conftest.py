"""A workspace with a dataset to trigger on, and a controller that uses the test driver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from loopml.controller import Controller, FunctionLauncher
from loopml.sdk import Client
from tests.controller.helpers import FileRolloutDriver

PIPELINES = "tests.controller.helpers"


def frame(seed: int) -> pd.DataFrame:
    """A small table whose content (and so its dataset version) differs per seed."""
    return pd.DataFrame({"temp": [seed + 0.5, seed + 1.5, seed + 2.5], "count": [1, 2, seed]})


@pytest.fixture
def bikes_v1(client: Client) -> Client:
    """`client` with version 1 of dataset `bikes` logged."""
    client.log_dataset("bikes", frame(1))
    return client


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    """The file the test pipelines append their calls to."""
    return tmp_path / "calls.jsonl"


MakeController = Callable[..., Controller]


@pytest.fixture
def controller(client: Client, tmp_path: Path) -> MakeController:
    """`controller(**options)`: a controller on `client` with the file rollout driver."""

    def make(**options: object) -> Controller:
        options.setdefault("launcher", FunctionLauncher())
        options.setdefault("rollouts", FileRolloutDriver(tmp_path))
        return Controller(client, **options)  # type: ignore[arg-type]

    return make
