"""`loopml trigger …` and `loopml controller` on a workspace with a dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopml.controller import Controller
from loopml.sdk import Client
from tests.cli.helpers import Invoke, user_error
from tests.controller.conftest import frame
from tests.controller.helpers import lines

PIPELINE = "tests.controller.helpers:record"


@pytest.fixture
def bikes(client: Client) -> Client:
    client.log_dataset("bikes", frame(1))
    return client


def test_create_list_events_and_the_controller(cli: Invoke, bikes: Client, tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    created = cli(
        "trigger", "create", "retrain", "dataset:bikes", "--pipeline", PIPELINE,
        "--param", f"log={calls}", "--param", "epochs=3", "--param", "data={trigger.dataset}",
        "--cooldown", "1h",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "created trigger:retrain on dataset:bikes" in created.stdout
    listed = cli("trigger", "list", "--json")
    [trigger] = json.loads(listed.stdout)
    assert trigger["params"] == {"log": str(calls), "epochs": 3, "data": "{trigger.dataset}"}
    assert trigger["cooldown_s"] == 3600.0
    assert "retrain" in cli("trigger", "list").stdout

    idle = cli("controller", "--once")
    assert idle.exit_code == 0 and "nothing to do" in idle.stdout
    bikes.log_dataset("bikes", frame(2))
    ran = cli("controller", "--once")
    assert ran.exit_code == 0, ran.output
    assert "trigger retrain fired" in ran.stdout and "succeeded" in ran.stdout
    assert lines(calls)[0]["params"] == {"epochs": 3, "data": "dataset:bikes@2"}

    bikes.log_dataset("bikes", frame(3))
    skipped = json.loads(cli("controller", "--once", "--json").stdout)
    assert [e["state"] for e in skipped["recorded"]] == ["skipped_cooldown"]

    table = cli("trigger", "events", "retrain")
    assert "succeeded" in table.stdout and "skipped_cooldown" in table.stdout
    failed = json.loads(cli("trigger", "events", "--state", "failed", "--json").stdout)
    assert failed == []
    assert cli("trigger", "events", "--limit", "1", "--json").stdout.count('"id"') == 1


def test_enable_disable_delete(cli: Invoke, bikes: Client) -> None:
    assert cli("trigger", "create", "t", "schedule:1h", "--pipeline", PIPELINE).exit_code == 0
    assert "disabled trigger:t" in cli("trigger", "disable", "t").stdout
    assert json.loads(cli("trigger", "list", "--json").stdout)[0]["enabled"] is False
    assert "enabled trigger:t" in cli("trigger", "enable", "t").stdout
    assert "deleted trigger:t" in cli("trigger", "delete", "t").stdout
    assert "no triggers yet" in cli("trigger", "list").stdout
    assert "no events" in cli("trigger", "events").stdout
    created = cli("trigger", "create", "d", "cron:0 * * * *", "--pipeline", PIPELINE, "--disabled")
    assert created.exit_code == 0 and "cron:0 * * * *" in created.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("trigger", "create", "t", "weather:x", "--pipeline", PIPELINE), ("unknown kind",)),
        (("trigger", "create", "t", "dataset:bikes", "--pipeline", "nope"), ("MODULE:ATTR",)),
        (("trigger", "create", "t", "dataset:bikes", "--pipeline", PIPELINE, "--param", "x"),
         ("NAME=VALUE",)),
        (("trigger", "create", "t", "dataset:bikes", "--pipeline", PIPELINE,
          "--rollout-plan", "{}"), ("--rollout-deployment",)),
        (("trigger", "create", "t", "dataset:bikes", "--pipeline", PIPELINE,
          "--rollout-deployment", "api", "--rollout-plan", "{"), ("not JSON",)),
        (("trigger", "events", "--state", "done"), ("event state",)),
        (("trigger", "enable", "nope"), ("no trigger named 'nope'",)),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_errors(
    cli: Invoke, bikes: Client, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    user_error(cli(*args), *fragments)


def test_the_loop_runs_until_ctrl_c(
    cli: Invoke, bikes: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def one_pass_then_ctrl_c(self: Controller, interval: float, **options: Any) -> None:
        options["on_report"](self.reconcile_once())
        raise KeyboardInterrupt

    monkeypatch.setattr(Controller, "run_forever", one_pass_then_ctrl_c)
    result = cli("controller", "--interval", "0.5")
    assert result.exit_code == 0, result.output
    assert "a pass every 0.5 s" in result.stdout and "stopped" in result.stdout
    as_json = cli("controller", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["recorded"] == []
