"""`loopml replay` on traffic logged by the real serving app."""

from __future__ import annotations

import asyncio
import json

import pytest

from loopml.sdk import Client
from tests.cli.helpers import Invoke, user_error
from tests.deployments.helpers import bike_hours, register_ridge
from tests.rollouts.test_replay import _bikes_traffic
from tests.rollouts.test_serving import register_inflating

pytestmark = pytest.mark.usefixtures("traffic_open")


@pytest.mark.slow
def test_replay_prints_the_report_stores_it_and_exits_1_on_a_failure(
    cli: Invoke, client: Client
) -> None:
    hours = bike_hours()
    register_ridge(client, hours, "bikes", alpha=1.0)
    register_ridge(client, hours, "bikes", alpha=2.0)
    register_inflating(client, hours)
    client.deployments.create("bikes-api", "bikes/1")
    asyncio.run(_bikes_traffic(client, hours))

    passed = cli("replay", "model:bikes/2", "--deployment", "bikes-api", "--window", "1h")
    assert passed.exit_code == 0, passed.output
    print(passed.stdout)  # the sample report in the docs comes from here
    for line in ("stable", "model:bikes/1", "120 rows", "agreement", "mean |difference|"):
        assert line in passed.stdout
    assert "passed: no worse than stable: rmse" in passed.stdout

    failed = cli("replay", "bikes/3", "-d", "bikes-api", "--window", "1h", "--json")
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert report["verdict"]["passed"] is False and report["evaluation_id"].startswith("ev-")
    assert [r["evaluation_id"] for r in client.replays.latest("bikes/3")] == [
        report["evaluation_id"]
    ]

    dry = cli("replay", "bikes/2", "-d", "bikes-api", "--window", "1h", "--no-store", "--json")
    assert "evaluation_id" not in json.loads(dry.stdout)
    assert len(client.replays.latest("bikes/2")) == 1


def test_replay_refuses_a_bad_window(cli: Invoke, client: Client) -> None:
    register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    client.deployments.create("bikes-api", "bikes/1")
    user_error(
        cli("replay", "bikes/1", "-d", "bikes-api", "--window", "a week"), "is not a duration"
    )
