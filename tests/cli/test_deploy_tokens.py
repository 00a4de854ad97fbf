"""`loopml deploy token create | list | revoke`."""

from __future__ import annotations

import json

import pytest

from loopml.sdk import Client
from tests.cli.helpers import Invoke, table_rows, user_error
from tests.deployments.helpers import bike_hours, register_ridge

pytestmark = pytest.mark.usefixtures("traffic_open")  # about the commands, not the policy


def test_create_list_and_revoke(cli: Invoke, client: Client) -> None:
    register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    cli("deploy", "create", "bikes-api", "bikes/1")
    made = cli("deploy", "token", "create", "bikes-api", "--scope", "predict", "--label", "shop")
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("created token dtok-")
    assert "(predict)" in made.stdout and "shown once" in made.stdout
    data = json.loads(
        cli(
            "deploy", "token", "create", "bikes-api", "--scope", "predict", "--scope",
            "feedback", "--expires-in-days", "30", "--json",
        ).stdout
    )  # fmt: skip
    assert data["token"].startswith("lmd_") and data["scopes"] == ["predict", "feedback"]
    rows = table_rows(cli("deploy", "token", "list", "bikes-api").stdout)
    assert rows[0][0] == data["token_id"] and len(rows) == 2
    revoked = cli("deploy", "token", "revoke", data["token_id"])
    assert revoked.exit_code == 0 and "of bikes-api" in revoked.stdout
    listed = json.loads(cli("deploy", "token", "list", "--json").stdout)
    assert {t["token_id"]: t["revoked"] for t in listed}[data["token_id"]] is True
    assert all("token" not in t for t in listed)


def test_unknown_scopes_and_deployments_are_refused(cli: Invoke, client: Client) -> None:
    register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    cli("deploy", "create", "bikes-api", "bikes/1")
    user_error(
        cli("deploy", "token", "create", "bikes-api", "--scope", "admin"), "predict, feedback"
    )
    user_error(cli("deploy", "token", "create", "nope", "--scope", "predict"), "deploy list")
    user_error(
        cli(
            "deploy", "token", "create", "bikes-api", "--scope", "predict", "--expires-in-days", "0"
        ),
        "positive",
    )
