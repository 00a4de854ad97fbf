"""Replay before release on real logged traffic: the serving app answers and logs requests
and their feedback; a second version is then scored on that log beside the stable one."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer

from loopml.errors import PolicyViolationError, ValidationError
from loopml.governance import list_events
from loopml.rollouts import RolloutPlan
from loopml.rollouts.replay import ReplayOptions, parse_window
from loopml.sdk import Client
from loopml.serving import create_app
from tests.deployments.conftest import Register
from tests.deployments.helpers import BikeHours
from tests.rollouts.test_serving import register_inflating
from tests.serving.conftest import Cancer, register_cancer, serve

pytestmark = pytest.mark.anyio

NAME = "bikes-api"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def cancer() -> Cancer:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return Cancer(X, y.to_numpy())


async def _traffic(
    client: Client, name: str, rows: list[dict[str, Any]], labels: list[Any] | None
) -> None:
    """One request per row through the real app, and its label as feedback when given."""
    app = create_app(client, [name], poll_interval_s=0.1, auth="open")
    async with serve(app) as http:
        for i, row in enumerate(rows):
            request_id = f"r-{time.time_ns()}-{i}"
            answer = await http.post(
                f"/v1/deployments/{name}/predict", json=[row], headers={"X-Request-Id": request_id}
            )
            assert answer.status_code == 200, answer.text
            if labels is not None:
                label = {"request_id": request_id, "label": labels[i]}
                assert (await http.post(f"/v1/deployments/{name}/feedback", json=label)).is_success


async def _bikes_traffic(
    client: Client, hours: BikeHours, n: int = 120, labelled: int = 80
) -> None:
    rows = hours.x.iloc[:n].to_dict(orient="records")
    labels = [float(v) for v in hours.y.iloc[:n]]
    await _traffic(client, NAME, rows[:labelled], labels[:labelled])
    await _traffic(client, NAME, rows[labelled:], None)


def _window() -> dict[str, float]:
    return {"since": time.time() - 3600, "until": time.time() + 1}


@pytest.mark.slow
async def test_a_similar_candidate_passes_and_an_inflating_one_fails(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client, 2)  # Ridge alpha 1 (stable) and alpha 2 (a close candidate)
    worse = register_inflating(client, hours)  # bikes/3
    client.deployments.create(NAME, "bikes/1")
    await _bikes_traffic(client, hours)

    good = client.replays.run("bikes/2", NAME, **_window())
    assert (good["candidate"], good["stable"], good["task"]) == (
        "model:bikes/2",
        "model:bikes/1",
        "regression",
    )
    assert good["rows"] == 120 and good["quality"]["labelled"] == 80
    assert good["stable_reproduced"] == 1.0  # the replayed stable answers as it did live
    assert 0 < good["outputs"]["mean_abs_diff"] <= good["outputs"]["max_abs_diff"] < 5
    assert good["verdict"]["passed"] is True, good["verdict"]
    assert good["verdict"]["metric"] == "rmse"

    bad = client.replays.run(worse.uri, NAME, **_window())
    assert bad["outputs"]["agreement_rate"] == 0.0 and bad["outputs"]["max_abs_diff"] > 200
    assert bad["quality"]["candidate"]["rmse"] > 2 * bad["quality"]["stable"]["rmse"]
    assert bad["verdict"]["passed"] is False
    assert bad["verdict"]["reason"].startswith("worse than stable: rmse")

    stored = client.replays.latest(worse.uri, NAME)
    assert [r["evaluation_id"] for r in stored] == [bad["evaluation_id"]]
    events = [e for e in list_events(client.stores.engine) if e.action == "model.replay"]
    assert [(e.object, e.details["passed"]) for e in events] == [
        ("model:bikes/2", True),
        ("model:bikes/3", False),
    ]


@pytest.mark.slow
async def test_the_log_is_read_in_pages_with_the_same_result(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client, 2)
    client.deployments.create(NAME, "bikes/1")
    await _bikes_traffic(client, hours, n=60, labelled=40)
    window = _window()

    whole = client.replays.run("bikes/2", NAME, **window, store=False)
    paged = client.replays.run(
        "bikes/2", NAME, **window, store=False, options=ReplayOptions(page_rows=7)
    )

    assert (whole["pages"], paged["pages"]) == (1, 9)
    assert (paged["rows"], paged["stable_reproduced"]) == (
        whole["rows"],
        whole["stable_reproduced"],
    )
    assert paged["outputs"] == pytest.approx(whole["outputs"])
    for side in ("candidate", "stable"):
        assert paged["quality"][side] == pytest.approx(whole["quality"][side])
    assert paged["verdict"]["passed"] is whole["verdict"]["passed"]
    assert paged["verdict"]["candidate"] == pytest.approx(whole["verdict"]["candidate"])
    assert client.replays.latest("bikes/2") == []  # store=False keeps nothing


@pytest.mark.slow
async def test_a_classifier_reports_label_flips_and_accuracy(
    client: Client, cancer: Cancer
) -> None:
    register_cancer(client, cancer, trees=3, seed=0)
    register_cancer(client, cancer, trees=40, seed=1)
    client.deployments.create("cancer-api", "cancer/1")
    rows = cancer.records(150, start=300)
    await _traffic(client, "cancer-api", rows, [int(v) for v in cancer.target[300:450]])

    report = client.replays.run("cancer/2", "cancer-api", **_window())

    outputs = report["outputs"]
    assert report["task"] == "classification" and report["rows"] == 150
    assert outputs["flip_rate"] == pytest.approx(1 - outputs["agreement_rate"])
    assert 0 < outputs["flip_rate"] < 0.5
    quality = report["quality"]
    assert quality["metric"] == "accuracy" and quality["labelled"] == 150
    assert {"accuracy", "f1"} <= set(quality["stable"])
    assert {"accuracy", "f1", "roc_auc", "log_loss"} <= set(quality["candidate"])
    assert report["verdict"]["passed"] is (
        quality["candidate"]["accuracy"] >= quality["stable"]["accuracy"] - 0.05
    )


async def test_without_feedback_there_is_no_verdict(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client, 2)
    client.deployments.create(NAME, "bikes/1")
    await _bikes_traffic(client, hours, n=20, labelled=0)

    report = client.replays.run("bikes/2", NAME, **_window())

    assert report["rows"] == 20 and report["quality"]["labelled"] == 0
    assert report["verdict"]["passed"] is None
    assert report["verdict"]["reason"] == "no feedback in the window yet"


async def test_a_plan_that_requires_a_replay_refuses_a_candidate_without_a_passing_one(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client, 3)
    worse = register_inflating(client, hours)  # bikes/4
    client.deployments.create(NAME, "bikes/1")
    await _bikes_traffic(client, hours)
    plan = RolloutPlan(steps=(50, 100), require_replay=True)

    with pytest.raises(PolicyViolationError, match=r"has no replay against model:bikes/1"):
        client.rollouts.start(NAME, "bikes/2", plan)
    client.replays.run(worse.uri, NAME, **_window())
    with pytest.raises(PolicyViolationError, match=r"did not pass: worse than stable: rmse"):
        client.rollouts.start(NAME, worse.uri, plan)
    assert client.deployments.get(NAME).routes[0].version == 1  # nothing moved

    assert client.replays.run("bikes/2", NAME, **_window())["verdict"]["passed"] is True
    started = client.rollouts.start(NAME, "bikes/2", plan)
    assert started.candidate == "model:bikes/2" and started.plan.require_replay

    stale = RolloutPlan(steps=(50, 100), require_replay=True, replay_max_age_s=1e-3)
    client.rollouts.abort(NAME, reason="try again with a fresher replay")
    time.sleep(0.01)
    with pytest.raises(PolicyViolationError, match=r"no replay .* from the last"):
        client.rollouts.start(NAME, "bikes/3", stale)


async def test_bad_windows_and_candidates_are_refused(client: Client, register: Register) -> None:
    register(client, 1)
    client.deployments.create(NAME, "bikes/1")
    with pytest.raises(ValidationError, match="is the stable version"):
        client.replays.run("bikes/1", NAME, **_window())
    with pytest.raises(ValidationError, match="the window is empty"):
        client.replays.run("bikes/1", NAME, since=10.0, until=5.0)
    with pytest.raises(ValidationError, match="is not a duration"):
        parse_window("last week")
    with pytest.raises(ValidationError, match="is not a time"):
        parse_window("yesterday..today")
    assert parse_window("2026-12-01..2026-12-08") == (1796083200.0, 1796688000.0)
    since, until = parse_window("7d", now=1_000_000.0)
    assert (since, until) == (1_000_000.0 - 7 * 86400, 1_000_000.0)
    with pytest.raises(ValidationError, match="require_replay must be true or false"):
        RolloutPlan(require_replay="yes")  # type: ignore[arg-type]


async def test_an_approval_policy_may_require_a_passing_replay(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client, 2)
    worse = register_inflating(client, hours)  # bikes/3
    client.models.set_policy("bikes", {"auto_approve": True, "replay": {"deployment": NAME}})
    client.deployments.create(NAME, "bikes/1")
    await _bikes_traffic(client, hours)

    unreplayed = client.models.request("bikes/2")
    assert unreplayed.status == "REJECTED"
    [check] = [c for c in unreplayed.checks if c["name"] == f"passing replay on {NAME}"]
    assert not check["passed"] and "loopml replay model:bikes/2" in check["message"]

    client.replays.run(worse.uri, NAME, **_window())
    refused = client.models.request(worse.uri)
    assert refused.status == "REJECTED"
    assert any("worse than stable" in c["message"] for c in refused.checks if not c["passed"])

    client.replays.run("bikes/2", NAME, **_window())
    approved = client.models.request("bikes/2")
    assert approved.status == "APPROVED", approved.checks
    assert client.models.get("bikes@champion").version == 2
