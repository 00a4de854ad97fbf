"""`loopml rollout …` on Ridge versions trained through the SDK, with recorded traffic."""

from __future__ import annotations

import json

import pytest

from loopml.deployments import Route
from loopml.sdk import Client
from tests.cli.helpers import Invoke, field, table_rows, user_error
from tests.deployments.helpers import bike_hours, register_ridge
from tests.rollouts.test_service import V2, send

pytestmark = pytest.mark.usefixtures("traffic_open")  # about the commands, not the policy

NAME = "bikes-api"


def _deployed(client: Client) -> None:
    for alpha in (1.0, 2.0):
        register_ridge(client, bike_hours(), "bikes", alpha=alpha)
    client.deployments.create(NAME, "bikes/1")


def test_start_status_advance_and_abort(cli: Invoke, client: Client) -> None:
    _deployed(client)
    started = cli(
        "rollout",
        "start",
        NAME,
        "model:bikes/2",
        "--steps",
        "20,100",
        "--hold",
        "0",
        "--min-requests",
        "10",
        "--max-error-rate",
        "0.05",
        "--max-p99-ms",
        "250",
        "--max-accuracy-drop",
        "off",
        "--metric",
        "mae",
        "--min-labelled",
        "5",
        "--timeout",
        "1h",
        "--reason",
        "v2 is cheaper",
    )
    assert started.exit_code == 0, started.output
    assert "started rollout:ro-" in started.stdout and "step 1/2 (20%)" in started.stdout
    assert table_rows(started.stdout) == [
        ["model:bikes/1", "80%", "no"],
        ["model:bikes/2", "20%", "no"],
    ]
    plan = client.rollouts.get(NAME).plan
    assert (plan.steps, plan.hold_s, plan.timeout_s) == ((20.0, 100.0), 0.0, 3600.0)
    assert (plan.max_p99_ms, plan.max_accuracy_drop, plan.metric) == (250.0, None, "mae")

    waiting = cli("rollout", "advance", NAME)
    assert waiting.exit_code == 0, waiting.output
    assert "waiting for requests: 0 of 10 to model:bikes/2" in waiting.stdout

    shown = cli("rollout", "status", NAME)
    assert shown.exit_code == 0, shown.output
    assert field(shown.stdout, "state") == "running"
    assert field(shown.stdout, "steps") == "[20%] → 100%"
    assert field(shown.stdout, "reasons") == "v2 is cheaper"
    data = json.loads(cli("rollout", "status", NAME, "--json").stdout)
    assert data["state"] == "running" and [h["action"] for h in data["history"]] == ["start"]

    send(client, V2, client.rollouts.get(NAME).step_started_at or 0, n=12, spacing=1e-4)
    moved = json.loads(cli("rollout", "advance", NAME, "--json").stdout)
    assert moved["action"] == "step" and moved["rollout"]["weight"] == 100
    assert moved["analysis"]["requests"] == 12

    listed = cli("rollout", "status")
    [row] = table_rows(listed.stdout)
    assert row[1:5] == [NAME, "model:bikes/2", "model:bikes/1", "running"]

    aborted = cli("rollout", "abort", NAME, "--reason", "not today")
    assert aborted.exit_code == 0, aborted.output
    assert "aborted rollout:" in aborted.stdout and "not today" in aborted.stdout
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]
    [listed_json] = json.loads(cli("rollout", "status", "--json").stdout)
    assert listed_json["state"] == "aborted"


def test_blue_green_and_a_rollback_show_their_reasons(cli: Invoke, client: Client) -> None:
    _deployed(client)
    assert cli("rollout", "start", NAME, "bikes/2", "--steps", "100", "--hold", "0").exit_code == 0
    send(client, V2, client.rollouts.get(NAME).step_started_at or 0, n=100, errors=50, spacing=1e-4)
    result = cli("rollout", "advance", NAME)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("rollback rollout:")
    assert "error rate 50.00% (50 of 100 requests failed) above the limit 1.00%" in result.stdout
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]


def test_errors_are_one_line(cli: Invoke, client: Client) -> None:
    assert cli("rollout", "status").stdout.startswith("no rollouts yet")
    user_error(cli("rollout", "start", "nope", "bikes/1"), "no deployment 'nope'")
    _deployed(client)
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--steps", "50,10,100"),
        "steps must increase strictly",
    )
    user_error(cli("rollout", "start", NAME, "bikes/2", "--hold", "soon"), "not a duration")
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--max-error-rate", "lots"),
        "--max-error-rate must be a number or 'off'",
    )
    user_error(cli("rollout", "advance", NAME), "has no rollout; start one")
    user_error(cli("rollout", "start", NAME, "bikes/1"), "already serves all traffic")
    assert cli("rollout", "start", NAME, "bikes/2").exit_code == 0
    user_error(cli("rollout", "start", NAME, "bikes/2"), "already has an active rollout")


def test_a_plan_judged_by_estimate_shows_its_reference_and_basis(
    cli: Invoke, client: Client
) -> None:
    _deployed(client)
    hours = bike_hours()
    client.log_dataset("bikes-holdout", hours.x.assign(bikers=hours.y.to_numpy()))
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--judge-by", "guess"),
        "judge_by must be 'labels'",
    )
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--judge-by", "labels_or_estimate"),
        "has no stored evaluation",
    )
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--estimate-reference", "dataset:bikes-holdout"),
        "judges by labels only",
    )
    started = cli(
        "rollout",
        "start",
        NAME,
        "bikes/2",
        "--hold",
        "0",
        "--judge-by",
        "labels_or_estimate",
        "--estimate-reference",
        "dataset:bikes-holdout",
        "--estimate-target",
        "bikers",
    )
    assert started.exit_code == 0, started.output
    plan = client.rollouts.get(NAME).plan
    assert (plan.judge_by, plan.estimate_reference, plan.estimate_target) == (
        "labels_or_estimate",
        "dataset:bikes-holdout@1",
        "bikers",
    )
    shown = cli("rollout", "status", NAME)
    assert "judged by labels or estimate (reference dataset:bikes-holdout@1, target bikers)" in (
        " ".join(field(shown.stdout, "plan").split())
    )
    history = table_rows(shown.stdout)
    assert history[-1][1:5] == ["start", "running", "10%", "—"]  # nothing judged yet


def test_start_takes_the_quality_test_and_the_replay_requirement(
    cli: Invoke, client: Client
) -> None:
    _deployed(client)
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--require-replay"),
        "has no replay against model:bikes/1",
    )
    user_error(cli("rollout", "start", NAME, "bikes/2", "--quality-test", "hunch"), "quality_test")
    user_error(
        cli("rollout", "start", NAME, "bikes/2", "--replay-max-age", "lately"), "not a duration"
    )
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]  # nothing moved
    started = cli("rollout", "start", NAME, "bikes/2", "--quality-test", "sequential", "--json")
    assert started.exit_code == 0, started.output
    plan = json.loads(started.stdout)["plan"]
    assert plan["quality_test"] == "sequential" and plan["require_replay"] is False
