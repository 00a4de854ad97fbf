"""One SDK, two modes: `loopml.connect` and the environment choose, the signatures agree,
and a remote run left open ends with the process like a local one."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import loopml
from loopml import ConfigError, PermissionDeniedError, ValidationError
from loopml.sdk import Client, RemoteClient, RemoteRun, fluent
from loopml.tracking import Run
from tests.server.live import LiveServer, cli_environment

SHARED_CLIENT = [
    "start_run",
    "active_run",
    "get_run",
    "search_runs",
    "metric_history",
    "list_artifacts",
    "list_experiments",
    "read_artifact",
    "log_dataset",
    "get_dataset",
    "load_dataset",
    "close",
]
SHARED_RUN = [
    "log_param",
    "log_params",
    "log_metric",
    "log_metrics",
    "log_batch",
    "set_tag",
    "set_tags",
    "flush",
    "log_input",
    "log_artifact",
    "log_bytes",
    "log_text",
    "log_json",
    "log_figure",
    "end",
    "record",
    "log_model",
]


def _shape(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Parameter names, kinds and defaults (not annotations: the types differ by mode)."""
    params = list(inspect.signature(fn).parameters.values())
    return [(p.name, p.kind, p.default) for p in params if p.name != "self"]


@pytest.mark.parametrize("name", SHARED_CLIENT)
def test_the_remote_client_has_the_local_signatures(name: str) -> None:
    assert _shape(getattr(RemoteClient, name)) == _shape(getattr(Client, name))


@pytest.mark.parametrize("name", SHARED_RUN)
def test_the_remote_run_has_the_local_signatures(name: str) -> None:
    assert _shape(getattr(RemoteRun, name)) == _shape(getattr(Run, name))


@pytest.mark.parametrize(
    "name", [n for n in loopml.__all__ if callable(getattr(fluent, n, None)) and hasattr(Client, n)]
)
def test_each_module_function_has_the_signature_of_its_client_method(name: str) -> None:
    assert _shape(getattr(fluent, name)) == _shape(getattr(Client, name))


def test_a_url_gives_a_remote_client_acting_as_the_token(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> None:
    options = loopml.sdk.RemoteOptions(journal_dir=tmp_path / "journal")
    client = loopml.connect(sqlite_server.url, token=role_tokens["approver"], remote=options)
    try:
        assert isinstance(client, RemoteClient)
        assert client.principal.role == "approver"
        assert client.principal.name.startswith("approver-")
    finally:
        client.close()
    with pytest.raises(ConfigError, match="needs an API token"):
        loopml.connect(sqlite_server.url)
    with pytest.raises(ValidationError, match="do not apply to a remote client"):
        loopml.connect(sqlite_server.url, token="lml_x", artifacts_url="/tmp/a")
    with pytest.raises(PermissionDeniedError, match="unknown or revoked"):
        loopml.connect(sqlite_server.url, token="lml_" + "Q" * 43, remote=options)
    with pytest.raises(ValidationError, match="http"):
        RemoteClient("ftp://host", "lml_x")


def test_the_environment_makes_the_module_functions_remote(
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no workspace here: nothing may be created locally
    monkeypatch.setenv("LOOPML_SERVER_URL", sqlite_server.url)
    monkeypatch.setenv("LOOPML_TOKEN", role_tokens["editor"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loopml.set_client(None)
    try:
        with loopml.start_run(experiment, params={"lr": 0.1}) as run:
            assert isinstance(run, RemoteRun)
            assert loopml.active_run() is run
            loopml.log_metric("loss", 0.5)
            loopml.log_metrics({"loss": 0.25, "acc": 0.9}, step=1)
            loopml.set_tag("mode", "remote")
            assert loopml.log_artifact(_file(tmp_path)) == ["notes.txt"]
        record = loopml.get_run(run.id)
        assert record.status == "FINISHED" and record.tags == {"mode": "remote"}
        assert record.metrics == {"loss": 0.25, "acc": 0.9}
        assert [r.id for r in loopml.search_runs(experiment)] == [run.id]
        name = "fluent-" + experiment
        logged = loopml.log_dataset(name, pd.DataFrame({"x": [1, 2, 3]}))
        assert loopml.get_dataset(f"{name}@1").id == logged.id
        assert loopml.load_dataset(logged)["x"].tolist() == [1, 2, 3]
        with pytest.raises(ValidationError, match="needs a local workspace"):
            loopml.get_online_features([{"id": 1}], "view:feature")
        assert not (tmp_path / ".loopml").exists()
        assert (tmp_path / "cache" / "loopml" / "remote-journal").is_dir()
    finally:
        loopml.client().close()
        loopml.set_client(None)


def _file(folder: Path) -> Path:
    path = folder / "notes.txt"
    path.write_text("remote")
    return path


EXITING = """
import sys
import loopml
run = loopml.start_run(sys.argv[1])
run.log_metric("loss", 1.0)
if sys.argv[2] == "crash":
    raise RuntimeError("the script crashed")
"""


@pytest.mark.parametrize(("how", "status"), [("clean", "FINISHED"), ("crash", "FAILED")])
def test_a_remote_run_left_open_ends_with_its_process(
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
    tmp_path: Path,
    how: str,
    status: str,
) -> None:
    script = tmp_path / "script.py"
    script.write_text(EXITING)
    env = cli_environment(
        {
            "LOOPML_SERVER_URL": sqlite_server.url,
            "LOOPML_TOKEN": role_tokens["editor"],
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
    )
    done = subprocess.run(
        [sys.executable, str(script), experiment, how], env=env, cwd=tmp_path, capture_output=True
    )
    assert done.returncode == (0 if how == "clean" else 1), done.stderr.decode()
    options = loopml.sdk.RemoteOptions(journal_dir=tmp_path / "reader-journal")
    client = RemoteClient(sqlite_server.url, role_tokens["viewer"], options)
    try:
        (record,) = client.search_runs(experiment)
        assert record.status == status and record.metrics == {"loss": 1.0}
        if how == "crash":
            assert record.error is not None and "the script crashed" in record.error
    finally:
        client.close()
