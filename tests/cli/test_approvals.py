"""The approval workflow from the shell: principals act through LOOPML_TOKEN or --token."""

from __future__ import annotations

import json
import re

import pytest

from loopml.sdk import Client
from tests.cli.conftest import Train
from tests.cli.helpers import Invoke, field, table_rows, user_error

Team = dict[str, str]


def request_id(output: str) -> str:
    found = re.search(r"req-[0-9a-f]+", output)
    assert found, output
    return found.group(0)


@pytest.fixture
def team(cli: Invoke) -> Team:
    """Tokens of an editor, two approvers and a viewer, made with `loopml auth` as admin."""
    tokens = {}
    for name, role in {"erin": "editor", "alice": "approver", "bob": "approver"}.items():
        assert cli("auth", "principal", "create", name, "--role", role).exit_code == 0
        tokens[name] = json.loads(cli("auth", "token", "create", name, "--json").stdout)["token"]
    assert cli("auth", "principal", "create", "vic", "--role", "viewer").exit_code == 0
    tokens["vic"] = json.loads(cli("auth", "token", "create", "vic", "--json").stdout)["token"]
    return tokens


def test_four_eyes_roles_and_the_alias_moving(cli: Invoke, team: Team, trained: Train) -> None:
    trained()
    opened = cli("models", "request", "model:bikes/1", "--reason", "first", token=team["alice"])
    assert opened.exit_code == 0, opened.output
    out = opened.stdout
    req = request_id(out)
    assert out.splitlines()[0] == f"opened request {req}: bikes@champion → model:bikes/1"
    assert field(out, "status") == "PENDING"
    assert field(out, "requester") == "alice"
    assert field(out, "reason") == "first"
    assert field(out, "move") == "bikes@champion: — → v1"
    assert "checks: none" in out
    assert f"loopml models approve {req}" in out

    user_error(cli("models", "approve", req, token=team["alice"]), "four-eyes", "alice opened")
    user_error(cli("models", "approve", req, token=team["vic"]), "vic (viewer)", "approver role")
    user_error(cli("models", "approve", req, token=team["erin"]), "erin (editor)")
    user_error(cli("models", "show", "bikes@champion"), "has no alias 'champion'")

    done = cli("--token", team["bob"], "models", "approve", req, "--comment", "metrics fine")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[0] == f"approved {req}: bikes@champion → model:bikes/1"
    assert field(done.stdout, "status") == "APPROVED"
    assert table_rows(done.stdout)[-1][:3] == ["bob", "APPROVE", "metrics fine"]

    shown = cli("models", "show", "bikes@champion", "--json", token=team["vic"])
    assert json.loads(shown.stdout)["version"] == 1
    assert "champion → v1" in cli("models", "list").stdout
    log = json.loads(cli("audit", "log", "--object", f"request:{req}", "--json").stdout)
    assert [(e["action"], e["actor"]) for e in log] == [
        ("approval.request", "alice"),
        ("approval.approve", "bob"),
        ("approval.approved", "bob"),
    ]
    user_error(cli("models", "approve", req, token=team["alice"]), "already APPROVED")


def test_two_approvals_needed(cli: Invoke, team: Team, trained: Train) -> None:
    trained()
    assert cli("models", "policy", "bikes", "--set", "required_approvals=2").exit_code == 0
    req = request_id(cli("models", "request", "bikes", token=team["erin"]).stdout)
    first = cli("models", "approve", req, token=team["alice"])
    assert first.stdout.splitlines()[0] == (
        f"recorded alice's approval of {req}: 1 of 2 approvals; still PENDING"
    )
    user_error(cli("models", "approve", req, token=team["alice"]), "already decided")
    second = cli("models", "approve", req, token=team["bob"])
    assert field(second.stdout, "status") == "APPROVED"
    assert field(second.stdout, "approvals") == "2 of 2"


def test_reject_and_cancel(cli: Invoke, team: Team, trained: Train) -> None:
    trained()
    req = request_id(cli("models", "request", "bikes/1", token=team["erin"]).stdout)
    rejected = cli("models", "reject", req, "--comment", "not yet", token=team["bob"])
    assert rejected.exit_code == 0, rejected.output
    assert rejected.stdout.splitlines()[0] == f"rejected {req}: bikes@champion stays unset"
    assert table_rows(rejected.stdout)[-1][:3] == ["bob", "REJECT", "not yet"]

    again = request_id(cli("models", "request", "bikes/1", token=team["erin"]).stdout)
    user_error(cli("models", "cancel", again, token=team["alice"]), "only erin or an admin")
    cancelled = cli("models", "cancel", again, token=team["erin"])
    assert cancelled.stdout.splitlines()[0] == f"cancelled {again}: bikes@champion stays unset"
    assert field(cancelled.stdout, "outcome") == "cancelled by erin"
    user_error(cli("models", "cancel", again), "already REJECTED")
    user_error(cli("models", "approve", "req-00000000", token=team["bob"]), "no approval request")


def test_request_prints_each_check(cli: Invoke, trained: Train, client: Client) -> None:
    version = trained()
    client.models.set_policy(
        "bikes",
        {
            "thresholds": [
                {"metric": "train_r2", "op": ">=", "value": 0.1},
                {"metric": "train_r2", "op": ">=", "value": 0.9},
            ]
        },
    )
    result = cli("models", "request", "bikes/1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == (
        "rejected: an automatic check failed; bikes@champion stays unset"
    )
    assert field(out, "status") == "REJECTED"
    r2 = f"train_r2 = {version.metrics['train_r2']:.6g}"
    assert table_rows(out) == [
        ["threshold train_r2 >= 0.1", "pass", r2],
        ["threshold train_r2 >= 0.9", "FAIL", r2],
    ]
    data = json.loads(cli("models", "request", "bikes/1", "--json").stdout)
    assert data["status"] == "REJECTED"
    assert [c["passed"] for c in data["checks"]] == [True, False]


def test_auto_approve_and_no_regression_on_summer_data(
    cli: Invoke, trained: Train, summer: str
) -> None:
    trained()
    trained(alpha=50.0)  # more regularised: worse on the summer hours
    policy = [
        "--set", "auto_approve=true",
        "--set", "no_regression.dataset=bikes-summer",
        "--set", "no_regression.target=bikers",
        "--set", "no_regression.metric=rmse",
    ]  # fmt: skip
    assert cli("models", "policy", "bikes", *policy).exit_code == 0
    first = cli("models", "request", "bikes/1")
    assert first.stdout.splitlines()[0] == "approved automatically: bikes@champion → model:bikes/1"
    [check] = table_rows(first.stdout)[:1]
    assert check[:2] == ["no regression in rmse on bikes-summer (margin 0)", "pass"]
    assert "no current holder" in check[2]

    second = cli("models", "request", "bikes/2")
    assert field(second.stdout, "status") == "REJECTED"
    [check] = table_rows(second.stdout)[:1]
    assert check[1] == "FAIL"
    assert re.fullmatch(r"model:bikes/2: [\d.]+ vs model:bikes/1: [\d.]+", check[2]), check[2]
    assert "stays v1" in second.stdout.splitlines()[0]


def test_requests_table_and_filters(cli: Invoke, team: Team, trained: Train) -> None:
    assert cli("models", "requests").stdout.strip() == "no approval requests yet"
    trained()
    trained(alpha=50.0)
    first = request_id(cli("models", "request", "bikes/1", token=team["erin"]).stdout)
    cli("models", "approve", first, token=team["alice"])
    second = request_id(cli("models", "request", "bikes/2", token=team["erin"]).stdout)
    rows = table_rows(cli("models", "requests").stdout)
    assert [r[:8] for r in rows] == [
        [first, "bikes", "champion", "— → v1", "erin", "APPROVED", "—", "1 of 1"],
        [second, "bikes", "champion", "v1 → v2", "erin", "PENDING", "—", "0 of 1"],
    ]
    pending = json.loads(cli("models", "requests", "bikes", "--status", "pending", "--json").stdout)
    assert [(r["id"], r["status"], r["approvals"]) for r in pending] == [(second, "PENDING", 0)]
    assert cli("models", "requests", "--status", "REJECTED").stdout.strip() == "no requests match"
    user_error(cli("models", "requests", "--status", "done"), "--status must be one of")
    user_error(cli("models", "requests", "nope"), "no registered model 'nope'")


def test_request_errors(cli: Invoke, team: Team, trained: Train) -> None:
    trained()
    user_error(cli("models", "request", "bikes", "--alias", "staging"), "is not protected")
    user_error(cli("models", "request", "bikes", token=team["vic"]), "vic (viewer)", "editor")
    user_error(cli("models", "request", "bikes/4"), "no model version 'bikes/4'")
    cli("models", "request", "bikes")
    user_error(cli("models", "request", "bikes"), "still pending")
