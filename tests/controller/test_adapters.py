"""The adapters: the default launcher, and the driver over the real rollout service."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from loopml.controller import FunctionLauncher, adapters, default_launcher, default_rollout_driver
from loopml.controller.adapters import PipelineRunLauncher, RolloutServiceDriver, start_reason
from loopml.sdk import Client


def test_default_launcher_falls_back_to_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(importlib, "import_module", missing)
    assert isinstance(default_launcher(), FunctionLauncher)


def test_default_launcher_uses_pipelines_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = type(importlib)("loopml.pipelines")
    monkeypatch.setattr(adapters, "_pipelines", lambda: fake)
    assert isinstance(default_launcher(), PipelineRunLauncher)


def test_the_rollout_driver_comes_from_the_client(client: Client) -> None:
    driver = default_rollout_driver(client)
    assert isinstance(driver, RolloutServiceDriver)
    assert driver.active(0.0) == []
    assert default_rollout_driver(object()) is None
    assert "tev-1" in start_reason("tev-1")
