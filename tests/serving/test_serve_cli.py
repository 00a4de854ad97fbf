"""`loopml serve`: its options reach create_app and uvicorn (one process, uvloop, httptools)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from loopml.cli import app
from loopml.registry import ModelVersion
from loopml.sdk import Client
from tests.serving.conftest import deploy, route


def test_serve_runs_uvicorn_with_the_app(
    client: Client, cancer_v1: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    started: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, **kw: started.append(self.config))
    args = ["--workspace", str(client.settings.root), "serve", "cancer", "--port", "9123"]
    args += ["--batch-rows", "32", "--max-body-mb", "1", "--no-log", "--auth", "open"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (config,) = started
    assert (config.host, config.port, config.loop) == ("127.0.0.1", 9123, "uvloop")
    assert isinstance(config.http, type) and issubclass(config.http, HttpToolsProtocol)
    assert config.access_log is False and config.workers == 1
    state: Any = config.app.state.serving  # type: ignore[attr-defined]
    assert state.watcher.names == ["cancer"] and state.watcher.batching.max_rows == 32
    assert state.max_body_bytes == 1024 * 1024 and state.log_predictions is False
    assert state.auth.mode == "open"
    result = CliRunner().invoke(app, [*args[:-1], "nobody"])
    assert result.exit_code != 0 and "tokens, open" in result.output


def test_serve_help_lists_the_endpoints() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("/v1/deployments/NAME/predict", "--batch-rows", "--poll-interval", "/metrics"):
        assert text in result.output
