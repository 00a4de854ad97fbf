"""Every command of the data, runs, experiments, models, auth and audit groups gives the
same answer on a workspace and through a server (`--server URL`): the same story is played
in both worlds, and each command's output is compared once ids, digests and clock times
(which differ by nature) are masked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.config import init_workspace
from loopml.sdk import AnyClient, RemoteClient, RemoteOptions
from loopml.sdk.client import connect as connect_workspace
from tests.server.conftest import start_server
from tests.server.live import LiveServer, make_principal

pytestmark = pytest.mark.slow

PEOPLE = {"ada": "editor", "bob": "approver", "vic": "viewer"}
MASKS = [
    (re.compile(r"\b(run|dsv|mv|req|tok|prn|exp|apr)-[0-9a-f]{6,}\b"), r"\1-<id>"),
    (re.compile(r"\b[0-9a-f]{12,64}\b"), "<hex>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)? ?(s|ms|min|h|days?) ago\b"), "<ago>"),
    (re.compile(r"lml_[A-Za-z0-9_\-]{20,}"), "<token>"),
    (re.compile(r"\b\d+(\.\d+)?(ms|s)\b"), "<duration>"),
]
# Fields whose values differ between any two stores by nature: ids, clocks, digests.
VOLATILE = {
    "id",
    "created_at",
    "start_time",
    "end_time",
    "decided_at",
    "time",
    "hash",
    "prev_hash",
    "seq",
    "token",
    "token_id",
    "checked",
}


def mask_text(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def mask(value: Any) -> Any:
    """A JSON document with its volatile fields dropped and ids masked in every string."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, float):
        return round(value, 9)
    return value


@dataclass
class World:
    """One place commands run: a workspace, or a server; the same principals in both."""

    name: str
    target: list[str]  # the global options that pick it
    tokens: dict[str, str]
    journal: Path

    def cli(self, *args: str, who: str = "ada") -> Result:
        env = {"LOOPML_TOKEN": self.tokens[who], "XDG_CACHE_HOME": str(self.journal)}
        return CliRunner().invoke(app, [*self.target, *args], env=env)

    def client(self, who: str = "ada") -> AnyClient:
        if self.target[0] == "--server":
            options = RemoteOptions(journal_dir=self.journal / "sdk", flush_interval_s=0.2)
            return RemoteClient(self.target[1], self.tokens[who], options)
        return connect_workspace(self.target[1], create=False, token=self.tokens[who])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own: both worlds start empty."""
    live = start_server(tmp_path_factory.mktemp("cli-remote-server"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def worlds(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[World, World]:
    admin = server.admin_token()
    remote_tokens = {"admin": admin}
    for name, role in PEOPLE.items():
        remote_tokens[name] = make_principal(server, admin, name, role)
    root = init_workspace(tmp_path_factory.mktemp("cli-remote-ws"))
    owner = connect_workspace(root)
    local_tokens: dict[str, str] = {}
    try:
        for name, role in {"admin": "admin", **PEOPLE}.items():
            owner.auth.create_principal(name, role)
            local_tokens[name] = owner.auth.create_token(name, label="tests").token
    finally:
        owner.close()
    journal = tmp_path_factory.mktemp("cli-remote-cache")
    return (
        World("local", ["--workspace", str(root)], local_tokens, journal / "local"),
        World("remote", ["--server", server.url], remote_tokens, journal / "remote"),
    )


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("LOOPML_SERVER_URL", "LOOPML_TOKEN", "LOOPML_STORE_URL", "LOOPML_ARTIFACTS_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def bike_files(folder: Path) -> tuple[Path, Path]:
    """Two versions of a small table: the second has more rows and a new column."""
    rng = np.random.RandomState(7)
    temp = rng.uniform(0, 30, 60).round(2)
    frame = pd.DataFrame({"temp": temp, "season": np.where(temp > 15, "summer", "winter")}).assign(
        cnt=(temp * 4 + rng.normal(0, 3, 60)).round().astype(int)
    )
    first, second = folder / "bikes-1.csv", folder / "bikes-2.csv"
    frame.iloc[:40].to_csv(first, index=False)
    frame.assign(holiday=frame["temp"] > 25).to_csv(second, index=False)
    return first, second


def train(world: World) -> str:
    """A run (through the SDK of the world's mode) that reads bikes@2 and logs a model."""
    client = world.client()
    try:
        with client.start_run("bikes", "ridge", params={"alpha": 1.0}, capture_code=False) as run:
            frame = client.load_dataset("bikes@2")
            x, y = frame[["temp"]], frame["cnt"].astype(float)
            model = Ridge(alpha=1.0).fit(x, y)
            run.log_metric("r2", float(model.score(x, y)))
            run.log_model(model, input_example=x)
        return run.id
    finally:
        client.close()


def same(results: dict[str, Result], as_json: bool) -> Any:
    """Both worlds succeeded with the same output (masked); returns it."""
    outputs = {}
    for name, result in results.items():
        assert result.exit_code == 0, f"{name}: {result.output}"
        outputs[name] = mask(json.loads(result.stdout)) if as_json else mask_text(result.stdout)
    assert outputs["local"] == outputs["remote"]
    return outputs["local"]


def test_the_same_story_gives_the_same_output_locally_and_through_a_server(
    worlds: tuple[World, World], tmp_path: Path
) -> None:
    first, second = bike_files(tmp_path)
    both = {w.name: w for w in worlds}

    def each(*args: str, who: str = "ada", as_json: bool | None = None) -> Any:
        results = {name: w.cli(*args, who=who) for name, w in both.items()}
        return same(results, "--json" in args if as_json is None else as_json)

    # data
    assert "logged dataset:bikes@1" in each("data", "add", "bikes", str(first))
    each("data", "add", "bikes", str(second), "--description", "summer rows")
    assert "unchanged" in each("data", "add", "bikes", str(second))
    listed = each("data", "list", "--json")
    assert [v["uri"] for v in listed] == ["dataset:bikes@1", "dataset:bikes@2"]
    each("data", "list")
    each("data", "show", "bikes@2", "--json")
    each("data", "show", "bikes")
    diff = each("data", "diff", "bikes@1", "bikes@2", "--json")
    assert diff["added"][0]["name"] == "holiday"
    each("data", "diff", "bikes@1", "bikes@2")
    for name, world in both.items():
        assert world.cli("data", "download", "bikes@1", str(tmp_path / name)).exit_code == 0
    assert (tmp_path / "local" / "bikes-1.csv").read_bytes() == first.read_bytes()
    assert (tmp_path / "remote" / "bikes-1.csv").read_bytes() == first.read_bytes()

    # runs and experiments
    runs = {name: train(world) for name, world in both.items()}
    each("runs", "list", "--experiment", "bikes", "--json")
    each("experiments", "list", "--json")
    shown = same({n: both[n].cli("runs", "show", runs[n], "--json") for n in both}, True)
    assert shown["params"] == {"alpha": "1.0"} and set(shown["metrics"]) == {"r2"}
    assert any(a["path"].startswith("model/") for a in shown["artifacts"])
    assert [i["role"] for i in shown["inputs"]] == ["read"]
    same({n: both[n].cli("runs", "compare", runs[n], runs[n]) for n in both}, False)

    # models, aliases, policies, evaluations, cards
    registered = {n: both[n].cli("models", "register", "bikes", "--run", runs[n]) for n in both}
    assert "registered model:bikes/1" in same(registered, False)
    each("models", "list", "--json")
    each("models", "list", "bikes", "--json")
    each("models", "show", "bikes/1", "--json")
    each("models", "lineage", "bikes/1", "--json")
    each("models", "alias", "bikes", "staging", "1")
    each("models", "state", "bikes/1", "registered")
    scored = each(
        "models", "evaluate", "bikes/1", "--dataset", "bikes@2", "--target", "cnt", "--json"
    )
    assert set(scored["metrics"]) >= {"rmse", "mae", "r2"}
    each("models", "card", "bikes@staging")
    each("models", "policy", "bikes", "--json")
    each("models", "policy", "bikes", "--set", "required_approvals=1", who="admin")
    asked = each("models", "request", "bikes/1", "--reason", "better", "--json")
    assert asked["status"] == "PENDING"
    ids = {n: json.loads(both[n].cli("models", "requests", "--json").stdout)[0]["id"] for n in both}
    each("models", "requests", "--status", "PENDING", "--json")
    decided = same({n: both[n].cli("models", "approve", ids[n], who="bob") for n in both}, False)
    assert "approved req-<id>: bikes@champion → model:bikes/1" in decided

    # auth and audit
    assert each("auth", "whoami", "--json")["name"] == "ada"
    each("auth", "whoami", who="vic")
    # who created the principals differs by set-up (the server's bootstrap, a local user)
    principals = {
        n: {
            p["name"]: p["role"]
            for p in json.loads(w.cli("auth", "principal", "list", "--json", who="admin").stdout)
        }
        for n, w in both.items()
    }
    assert principals["local"] == principals["remote"] == {"admin": "admin", **PEOPLE}
    each("auth", "principal", "create", "carl", "--role", "editor", who="admin")
    made = {n: both[n].cli("auth", "token", "create", "carl", "--json", who="admin") for n in both}
    issued = {n: json.loads(made[n].stdout) for n in both}
    assert mask(issued["local"]) == mask(issued["remote"])
    revoked = {
        n: both[n].cli("auth", "token", "revoke", issued[n]["token_id"], who="admin") for n in both
    }
    same(revoked, False)
    trail = each("audit", "log", "--object", "model:bikes", "--json", who="vic")
    actions = [e["action"] for e in trail]
    assert {"model.register", "alias.move", "model.evaluate", "policy.set"} <= set(actions)
    assert [e["actor"] for e in trail if e["action"] == "model.register"] == ["ada"]
    each("audit", "log", "--object", "model:bikes", who="vic")
    assert each("audit", "verify", "--json", who="vic")["ok"] is True


def test_workspace_only_commands_refuse_remote_mode_with_a_hint(
    worlds: tuple[World, World], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    remote = worlds[1]
    for args in (["audit", "rotate-key"], ["init"], ["server"], ["features", "list"]):
        result = remote.cli(*args)
        assert result.exit_code == 2, result.output
        message = result.stderr.strip()
        assert "runs against a workspace" in message and "--workspace" in message, message
        assert "Traceback" not in result.output
    monkeypatch.setenv("LOOPML_SERVER_URL", remote.target[1])
    result = CliRunner().invoke(app, ["logs", "predictions", "x"], env={"LOOPML_TOKEN": "t"})
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["audit", "rotate-key"], env={"LOOPML_TOKEN": "x" * 30})
    assert "unset LOOPML_SERVER_URL" in result.stderr
    result = CliRunner().invoke(
        app, ["--server", remote.target[1], "-w", str(tmp_path), "data", "list"]
    )
    assert result.exit_code == 2 and "pass one of them" in result.stderr


def test_remote_mode_needs_a_token_and_names_it(
    worlds: tuple[World, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(app, ["--server", worlds[1].target[1], "data", "list"])
    assert result.exit_code == 2
    assert "LOOPML_TOKEN" in result.stderr and "Traceback" not in result.output


def test_a_viewer_and_a_revoked_token_are_refused_by_the_cli_through_a_server(
    worlds: tuple[World, World], tmp_path: Path
) -> None:
    remote = worlds[1]
    first, _ = bike_files(tmp_path)
    writes = [
        ["data", "add", "viewer-bikes", str(first)],
        ["models", "alias", "bikes", "staging", "1"],
        ["models", "request", "bikes/1"],
        ["auth", "principal", "create", "mallory", "--role", "admin"],
        ["auth", "token", "create", "vic"],
    ]
    for args in writes:
        result = remote.cli(*args, who="vic")
        assert result.exit_code == 2, (args, result.output)
        message = result.stderr.strip()
        assert message.startswith("error: vic (viewer) may not "), message
        assert "role or higher" in message and "Traceback" not in result.output
    made = json.loads(remote.cli("auth", "token", "create", "vic", "--json", who="admin").stdout)
    remote.tokens["revoked"] = made["token"]
    assert remote.cli("auth", "whoami", who="revoked").exit_code == 0
    assert remote.cli("auth", "token", "revoke", made["token_id"], who="admin").exit_code == 0
    refused = remote.cli("data", "list", who="revoked")
    assert refused.exit_code == 2 and "revoked" in refused.stderr, refused.output
