"""The deploy, rollout, monitor, trigger and pipeline commands against a live server:
`LOOPML_SERVER_URL` and `LOOPML_TOKEN` set, no workspace, the commands unchanged."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.samples.bikeshare import bikeshare_features, load_bikeshare
from loopml.sdk import RemoteClient, RemoteOptions
from tests.server.conftest import log_table, register_versions
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow
Loopml = Callable[..., Result]


@pytest.fixture
def loopml(
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Loopml:
    """`loopml ARGS…` in-process, in remote mode, as the principal of role `as_`; run from
    an empty folder, so that no workspace can be found by accident."""
    for key in list(os.environ):
        if key.startswith("LOOPML_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, as_: str = "editor") -> Result:
        env = {"LOOPML_SERVER_URL": sqlite_server.url, "LOOPML_TOKEN": role_tokens[as_]}
        return runner.invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def model(sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path) -> str:
    """A fresh model with two registered versions on the server."""
    name = "cli-" + uuid.uuid4().hex[:8]
    options = RemoteOptions(journal_dir=tmp_path / "journal", retry_s=30)
    client = RemoteClient(sqlite_server.url, role_tokens["editor"], options)
    try:
        register_versions(client, name)
    finally:
        client.close()
    return name


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_deploy_and_rollout_commands_in_remote_mode(loopml: Loopml, model: str) -> None:
    dep = "cli-dep-" + uuid.uuid4().hex[:8]
    v1, v2 = f"model:{model}/1", f"model:{model}/2"
    refused = loopml("deploy", "create", dep, v1, "--override-policy", "--reason", "first")
    assert refused.exit_code != 0 and "admin" in refused.output
    created = loopml(
        "deploy", "create", dep, v1, "--override-policy", "--reason", "first", as_="admin"
    )
    assert f"created deployment:{dep}" in _ok(created)
    policy = loopml("deploy", "policy", "show", "--deployment", dep, "--json", as_="viewer")
    assert json.loads(_ok(policy))["scope"] in ("default", "workspace")
    blocked = loopml("deploy", "canary", dep, v2, "--weight", "60")
    assert blocked.exit_code != 0 and "traffic policy" in blocked.output
    _ok(loopml("deploy", "canary", dep, v2, "--weight", "60", "--override-policy",
               "--reason", "incident 9", as_="admin"))  # fmt: skip
    shown = json.loads(_ok(loopml("deploy", "show", dep, "--json", as_="viewer")))
    assert {r["version"]: r["weight"] for r in shown["routes"]} == {1: 40.0, 2: 60.0}
    assert "rolled back" in _ok(loopml("deploy", "rollback", dep, "--reason", "too fast"))
    history = json.loads(_ok(loopml("deploy", "history", dep, "--json")))
    assert [h["reason"] for h in history] == ["first", "incident 9", "too fast"]
    assert dep in _ok(loopml("deploy", "list", as_="viewer"))
    made = _ok(loopml("deploy", "token", "create", dep, "--scope", "predict", "--json"))
    token = json.loads(made.split("\nwarning:")[0])  # the warning is on standard error
    assert token["token"].startswith("lmd_")

    refused = loopml("deploy", "policy", "set", "--deployment", dep, "--open", "--reason", "x")
    assert refused.exit_code != 0 and "admin" in refused.output
    _ok(loopml("deploy", "policy", "set", "--deployment", dep, "--open", "--reason",
               "a rollout test", as_="admin"))  # fmt: skip
    _ok(loopml("rollout", "start", dep, v2, "--steps", "10,50,100"))
    status = json.loads(_ok(loopml("rollout", "status", dep, "--json", as_="viewer")))
    assert status["state"] == "running" and status["candidate"] == v2
    _ok(loopml("rollout", "advance", dep))
    _ok(loopml("rollout", "abort", dep, "--reason", "not today"))
    after = json.loads(_ok(loopml("deploy", "show", dep, "--json")))
    assert {r["version"]: r["weight"] for r in after["routes"]} == {1: 100.0}


def test_monitor_trigger_and_pipeline_commands_in_remote_mode(
    loopml: Loopml, model: str, sqlite_server: LiveServer
) -> None:
    suffix = uuid.uuid4().hex[:8]
    dep, mon = f"cli-dep-{suffix}", f"cli-mon-{suffix}"
    _ok(loopml("deploy", "create", dep, f"model:{model}/1", "--override-policy", "--reason",
               "first", as_="admin"))  # fmt: skip
    _ok(loopml("monitor", "create", mon, f"deployment:{dep}", "--alert", "dataset_drift"))
    listed = _ok(loopml("monitor", "list", as_="viewer"))
    assert mon in listed
    shown = _ok(loopml("monitor", "show", mon, as_="viewer"))
    assert f"deployment:{dep}" in shown and f"{model}-train" in shown
    assert loopml("monitor", "run", mon, as_="viewer").exit_code != 0
    _ok(loopml("monitor", "run", mon))
    assert "no open alerts" in _ok(loopml("monitor", "alerts", mon, as_="viewer")).lower()

    module = f"cli_pipes_{suffix}"
    (sqlite_server.root / f"{module}.py").write_text(
        "def job(n: int = 1) -> dict:\n    return {'n': n}\n"
    )
    pipe = f"cli-pipe-{suffix}"
    assert loopml("pipeline", "register", pipe, f"{module}:job").exit_code != 0
    _ok(loopml("pipeline", "register", pipe, f"{module}:job", as_="admin"))
    assert pipe in {p["name"] for p in json.loads(_ok(loopml("pipeline", "list", "--json")))}
    launched = json.loads(_ok(loopml("pipeline", "launch", pipe, "--param", "n=4", "--json")))
    assert launched["status"] == "succeeded" and launched["outputs"] == {"n": 4}
    crafted = loopml("pipeline", "launch", "os:system")
    assert crafted.exit_code != 0 and "registered pipeline by its name" in crafted.output
    local_only = loopml("pipeline", "run", f"{module}:job")
    assert local_only.exit_code != 0 and "--workspace" in local_only.output

    trig = f"cli-trig-{suffix}"
    _ok(loopml("trigger", "create", trig, "schedule:1h", "--pipeline", pipe))
    assert trig in _ok(loopml("trigger", "list", as_="viewer"))
    _ok(loopml("trigger", "disable", trig))
    listed_triggers = json.loads(_ok(loopml("trigger", "list", "--json")))
    assert [t["enabled"] for t in listed_triggers if t["name"] == trig] == [False]
    _ok(loopml("trigger", "delete", trig))
    assert trig not in _ok(loopml("trigger", "list"))


def test_an_alert_is_acknowledged_and_resolved_from_the_shell(
    loopml: Loopml, sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> None:
    data, mon = "cli-data-" + uuid.uuid4().hex[:8], "cli-mon-" + uuid.uuid4().hex[:8]
    frame = bikeshare_features(load_bikeshare().head(300))
    options = RemoteOptions(journal_dir=tmp_path / "journal", retry_s=30)
    client = RemoteClient(sqlite_server.url, role_tokens["editor"], options)
    try:
        log_table(client, data, frame)
        _ok(loopml("monitor", "create", mon, f"dataset:{data}", "--alert", "column_drift:temp"))
        log_table(client, data, frame.assign(temp=frame["temp"] + 30))
    finally:
        client.close()
    _ok(loopml("monitor", "run", mon))
    [alert] = json.loads(_ok(loopml("monitor", "alerts", mon, "--json", as_="viewer")))
    assert alert["rule"] == "column_drift:temp" and alert["state"] == "open"
    refused = loopml("monitor", "acknowledge", alert["id"], as_="viewer")
    assert refused.exit_code != 0 and "editor" in refused.output
    seen = json.loads(_ok(loopml("monitor", "acknowledge", alert["id"], "--comment", "on it",
                                 "--json")))  # fmt: skip
    assert seen["state"] == "open" and seen["acknowledged_by"].startswith("editor-")
    closed = _ok(loopml("monitor", "resolve", alert["id"], "--reason", "a sensor fault"))
    assert f"resolved {alert['id']}" in closed
    assert "no open alerts" in _ok(loopml("monitor", "alerts", mon))
    again = loopml("monitor", "resolve", alert["id"], "--reason", "again")
    assert again.exit_code != 0 and "already resolved" in again.output
