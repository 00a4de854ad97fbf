"""The whole loop, fast: drift and an accuracy alert on a deployment → the trigger retrains →
the gate passes → a canary on live REST traffic with SLO checks → approval → promotion; the
controller is killed with SIGKILL mid-rollout and a new one finishes the work.

It runs under the default traffic policy: the first version is deployed once it is
champion, the canary takes the share the policy gives a version whose checks passed, and
full traffic waits for the approval."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from loopml.controller import Controller
from loopml.governance.audit import verify_chain
from loopml.registry import ModelVersion
from loopml.samples import TARGET, bikeshare_features, split_by_months
from loopml.sdk import Client, connect
from loopml.serving.app import create_app
from loopml.serving.background import serve_in_background
from tests.monitoring.conftest import Deployed, bikes, deploy_bikes  # noqa: F401

PLAN = {
    "steps": [50, 100],
    "hold_s": 0.5,
    "min_requests": 10,
    "min_labelled": 10,
    "max_error_rate": 0.05,
    "max_p99_ms": 2000,
    "max_accuracy_drop": 0.5,  # judged on a few dozen rows: only a gross regression fails
}


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return bikeshare_features(frame).assign(**{TARGET: frame[TARGET].to_numpy()})


def send(http: httpx.Client, rows: pd.DataFrame) -> None:
    """One request per hour of `rows`, each followed by its ground truth."""
    for record, truth in zip(
        bikeshare_features(rows).to_dict(orient="records"), rows[TARGET], strict=True
    ):
        answer = http.post("/v1/deployments/bikes-api/predict", json={"records": [record]})
        answer.raise_for_status()
        http.post(
            "/v1/deployments/bikes-api/feedback",
            json={"request_id": answer.json()["request_id"], "labels": [float(truth)]},
        ).raise_for_status()


@pytest.mark.slow
def test_drift_retrains_canaries_and_promotes_surviving_a_killed_controller(
    client: Client,
    bikes: pd.DataFrame,  # noqa: F811
    tmp_path: Path,
) -> None:
    identity = client.models.identity
    identity.create_principal("alice", "approver")
    alice_token = identity.create_token("alice")
    client.models.registry.create_model("bikes")
    client.models.set_policy(
        "bikes", {"required_approvals": 1, "four_eyes": True, "independent_approvers": False}
    )

    def make_champion(version: ModelVersion) -> None:
        request = client.models.request(version.uri, reason="first champion")
        reviewer = connect(client.settings.root, token=alice_token)
        reviewer.models.approvals.approve(request.id)
        reviewer.close()

    deployed: Deployed = deploy_bikes(client, bikes, approve=make_champion)
    assert deployed.version.uri == client.models.get("bikes@champion").uri
    client.monitors.create(
        "health", "bikes-api", window="150 rows", schedule="1s", rules=["metric_below:r2:0.5"]
    )
    summer = split_by_months(bikes, [7, 8]).sort_values("timestamp", ignore_index=True)
    # trained on January to June; the gate judges on July, rows no candidate has seen
    client.log_dataset("bikes-labelled", labelled(split_by_months(bikes, range(1, 7))))
    client.log_dataset("bikes-recent", labelled(summer.iloc[:300]))
    client.triggers.create(
        "retrain",
        "alert:health:metric_below:r2:0.5",
        "tests.controller.loop_pipeline:retrain",
        params={"dataset": "bikes-labelled", "holdout": "bikes-recent"},
        cooldown="1h",
        rollout={"deployment": "bikes-api", "plan": PLAN},
    )
    controller = Controller(client, owner="test-controller", lease_s=2)

    with (
        serve_in_background(create_app(client, ["bikes-api"], auth="open")) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        send(http, summer.iloc[:150])  # July under a winter model: the accuracy drops
        time.sleep(1.5)  # the prediction log flushes once a second
        report = controller.reconcile_once()
        assert report.monitors.get("health") == 1, report.to_dict()
        [event] = report.finished
        assert event.state == "succeeded" and event.outcome["candidate"]
        rollout = client.rollouts.get("bikes-api")
        assert rollout.state == "running" and rollout.weight == 50.0
        request_id = event.outcome["outputs"]["request"]
        assert client.models.approvals.get(request_id).status == "PENDING"

        # A controller in another process drives the canary; it is killed mid-rollout.
        loopml_cli = Path(sys.executable).with_name("loopml")
        log = (tmp_path / "controller.log").open("w")
        worker = subprocess.Popen(
            [str(loopml_cli), "-w", str(client.settings.root), "controller", "--interval", "0.2"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            sent = 150
            while client.rollouts.get("bikes-api").revision == rollout.revision:
                assert time.monotonic() < deadline, (tmp_path / "controller.log").read_text()
                assert worker.poll() is None, (tmp_path / "controller.log").read_text()
                send(http, summer.iloc[sent : sent + 10])
                sent += 10
                time.sleep(0.3)
        finally:
            worker.send_signal(signal.SIGKILL)  # mid-rollout: it has just moved a step
            worker.wait(timeout=30)
            log.close()
        driven = client.rollouts.get("bikes-api")
        assert driven.active and driven.revision > rollout.revision

        approved = False
        for start in range(sent, len(summer), 20):
            send(http, summer.iloc[start : start + 20])
            time.sleep(0.6)
            controller.reconcile_once()
            rollout = client.rollouts.get("bikes-api")
            if rollout.state == "awaiting_approval" and not approved:
                reviewer = connect(client.settings.root, token=alice_token)
                reviewer.models.approvals.approve(request_id, comment="canary healthy")
                reviewer.close()
                approved = True
            if not rollout.active:
                break

    assert rollout.state == "promoted", (rollout.state, rollout.reasons)
    candidate = (
        event.outcome["candidate"]["version"]
        if isinstance(event.outcome["candidate"], dict)
        else event.outcome["candidate"]
    )
    assert client.models.get("bikes@champion").uri == candidate
    assert [r.uri for r in client.deployments.get("bikes-api").routes] == [candidate]
    actions = [h["action"] for h in client.rollouts.history(rollout.id)]
    assert actions.count("promote") == 1 and actions.count("start") == 1
    moves = [(h["step"], h["state"]) for h in client.rollouts.history(rollout.id)]
    assert len(moves) == len(set(moves)), moves  # no transition applied twice
    # The 100 % step needs champion: the approval came after the 50 % step and promoted.
    assert moves[-1] == (0, "promoted") and (0, "awaiting_approval") in moves
    number = int(candidate.rsplit("/", 1)[1])
    served = [h["routes"] for h in client.deployments.history("bikes-api")]
    first_full = served.index([{"model": "bikes", "version": number, "weight": 100.0}])
    shares = [r["weight"] for rs in served[:first_full] for r in rs if r["version"] == number]
    assert shares and max(shares) <= 50  # full traffic only once champion was approved
    assert len(client.triggers.events("retrain")) == 1  # one drift episode, one retraining
    assert controller.reconcile_once().finished == []
    lineage = client.models.lineage(candidate)
    assert [d["uri"] for d in lineage["datasets"]] == ["dataset:bikes-labelled@1"]
    assert verify_chain(client.stores.engine).ok


def test_loop_pieces_are_reachable_from_the_client(client: Client) -> None:
    assert client.triggers.list() == [] and client.rollouts.list() == []
