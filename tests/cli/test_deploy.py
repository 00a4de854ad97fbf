"""`loopml deploy …` on models trained through the SDK on the bundled Bike Sharing data."""

from __future__ import annotations

import json

import pytest

from loopml.deployments import Route
from loopml.sdk import Client
from tests.cli.helpers import Invoke, field, table_rows, user_error
from tests.deployments.helpers import bike_hours, register_broken, register_ridge

pytestmark = pytest.mark.usefixtures("traffic_open")  # about the commands, not the policy


def _versions(client: Client, count: int) -> None:
    """Versions 1..count of model `bikes` (Ridge regressions, registered through the SDK)."""
    for i in range(count):
        register_ridge(client, bike_hours(), "bikes", alpha=float(i + 1))


def test_create_show_and_list(cli: Invoke, client: Client) -> None:
    _versions(client, 1)
    created = cli("deploy", "create", "bikes-api", "model:bikes@latest", "--sticky-key", "user")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("created deployment:bikes-api  revision 1 (single)")
    assert table_rows(created.stdout) == [["model:bikes/1", "100%", "no"]]
    assert client.deployments.get("bikes-api").sticky_key == "user"

    shown = cli("deploy", "show", "bikes-api")
    assert shown.exit_code == 0, shown.output
    assert field(shown.stdout, "revision") == "1"
    assert field(shown.stdout, "strategy") == "single"
    assert field(shown.stdout, "sticky key") == "user"
    assert field(shown.stdout, "previous routes") == "—"
    data = json.loads(cli("deploy", "show", "bikes-api", "--json").stdout)
    assert data["routes"] == [{"model": "bikes", "version": 1, "weight": 100.0}]
    assert data["revision"] == 1 and data["previous_routes"] is None

    [row] = table_rows(cli("deploy", "list").stdout)
    assert row[:5] == ["bikes-api", "1", "single", "model:bikes/1 100%", "—"]
    [listed] = json.loads(cli("deploy", "list", "--json").stdout)
    assert listed["name"] == "bikes-api"


def test_list_when_empty(cli: Invoke) -> None:
    result = cli("deploy", "list")
    assert result.exit_code == 0 and "no deployments yet" in result.stdout
    assert json.loads(cli("deploy", "list", "--json").stdout) == []


def test_update_with_routes_shadows_and_a_reason(cli: Invoke, client: Client) -> None:
    _versions(client, 3)
    cli("deploy", "create", "bikes-api", "bikes/1")
    result = cli(
        "deploy",
        "update",
        "bikes-api",
        "--route",
        "model:bikes/1=90",
        "--route",
        "model:bikes/2=10",
        "--shadow",
        "model:bikes/3",
        "--reason",
        "try v2",
    )
    assert result.exit_code == 0, result.output
    assert "revision 2 (canary)" in result.stdout
    assert table_rows(result.stdout) == [
        ["model:bikes/1", "90%", "no"],
        ["model:bikes/2", "10%", "no"],
        ["model:bikes/3", "100%", "yes"],
    ]
    assert "rollback restores: model:bikes/1 100%" in result.stdout
    shown = cli("deploy", "show", "bikes-api").stdout
    assert field(shown, "previous routes") == "model:bikes/1 100%"

    history = cli("deploy", "history", "bikes-api")
    assert history.exit_code == 0, history.output
    first, second = table_rows(history.stdout)
    assert first[0] == "1" and first[3:6] == ["single", "model:bikes/1 100%", "—"]
    assert second[0] == "2" and second[-1] == "try v2"
    assert second[4] == "model:bikes/1 90%, model:bikes/2 10%"
    rows = json.loads(cli("deploy", "history", "bikes-api", "--json").stdout)
    assert [r["revision"] for r in rows] == [1, 2]

    single = cli("deploy", "update", "bikes-api", "--route", "bikes/2=100")
    assert "revision 3 (single)" in single.stdout
    assert client.deployments.get("bikes-api").shadows == [Route("bikes", 3)]  # kept


def test_canary_promote_and_rollback(cli: Invoke, client: Client) -> None:
    _versions(client, 2)
    cli("deploy", "create", "bikes-api", "bikes/1")
    canary = cli("deploy", "canary", "bikes-api", "model:bikes/2", "--weight", "10")
    assert canary.exit_code == 0, canary.output
    assert table_rows(canary.stdout) == [
        ["model:bikes/1", "90%", "no"],
        ["model:bikes/2", "10%", "no"],
    ]
    promoted = cli("deploy", "promote", "bikes-api", "model:bikes/2", "--reason", "looks good")
    assert promoted.exit_code == 0, promoted.output
    assert promoted.stdout.startswith("promoted deployment:bikes-api  revision 3 (single)")
    back = cli("deploy", "rollback", "bikes-api", "--reason", "errors")
    assert back.exit_code == 0, back.output
    assert back.stdout.startswith("rolled back deployment:bikes-api  revision 4 (canary)")
    assert client.deployments.get("bikes-api").routes == [
        Route("bikes", 1, 90),
        Route("bikes", 2, 10),
    ]


def test_shadow_on_and_off(cli: Invoke, client: Client) -> None:
    _versions(client, 2)
    cli("deploy", "create", "bikes-api", "bikes/1")
    on = cli("deploy", "shadow", "bikes-api", "bikes/2")
    assert on.exit_code == 0, on.output
    assert ["model:bikes/2", "100%", "yes"] in table_rows(on.stdout)
    off = cli("deploy", "shadow", "bikes-api", "bikes/2", "--off")
    assert table_rows(off.stdout) == [["model:bikes/1", "100%", "no"]]


def test_blue_green_smoke_tests_first(cli: Invoke, client: Client) -> None:
    _versions(client, 1)
    broken = register_broken(client, bike_hours(), "bikes")
    cli("deploy", "create", "bikes-api", "bikes/1")
    user_error(
        cli("deploy", "blue-green", "bikes-api", broken.uri),
        "smoke test of model:bikes/2 failed",
        "--no-smoke-test",
    )
    assert client.deployments.get("bikes-api").revision == 1
    switched = cli("deploy", "blue-green", "bikes-api", broken.uri, "--no-smoke-test")
    assert switched.exit_code == 0, switched.output
    assert switched.stdout.startswith("switched deployment:bikes-api  revision 2 (blue-green)")


def test_mistakes_are_one_line_errors(cli: Invoke, client: Client) -> None:
    _versions(client, 2)
    cli("deploy", "create", "bikes-api", "bikes/1")
    user_error(
        cli("deploy", "update", "bikes-api", "--route", "bikes/1=60", "--route", "bikes/2=30"),
        "add up to 90, not 100",
    )
    user_error(cli("deploy", "update", "bikes-api", "--route", "bikes@champion=100"), "not a route")
    user_error(cli("deploy", "show", "nope"), "no deployment 'nope'", "loopml deploy list")
    user_error(cli("deploy", "create", "bikes-api", "bikes/2"), "already exists")
    user_error(cli("deploy", "create", "other", "bikes/7"), "no model version")
    user_error(cli("deploy", "canary", "bikes-api", "bikes/2", "--weight", "100"), "promote")
    user_error(cli("deploy", "rollback", "bikes-api"), "no previous routes")
    assert client.deployments.get("bikes-api").revision == 1


def test_a_viewer_token_cannot_deploy(cli: Invoke, client: Client) -> None:
    _versions(client, 2)
    cli("deploy", "create", "bikes-api", "bikes/1")
    client.models.identity.create_principal("vic", "viewer")
    token = client.models.identity.create_token("vic")
    user_error(cli("deploy", "promote", "bikes-api", "bikes/2", token=token), "vic (viewer)")
    shown = cli("deploy", "show", "bikes-api", token=token)
    assert shown.exit_code == 0 and field(shown.stdout, "revision") == "1"


def test_input_policy_flags_on_create_and_update(cli: Invoke, client: Client) -> None:
    _versions(client, 2)
    created = cli(
        "deploy",
        "create",
        "bikes-api",
        "bikes/1",
        "--unknown-categories",
        "flag",
        "--extra-columns",
        "ignore",
    )
    assert created.exit_code == 0, created.output
    assert "unknown categories: flag; extra columns: ignore" in created.stdout
    assert field(cli("deploy", "show", "bikes-api").stdout, "unknown categories") == "flag"

    changed = cli("deploy", "update", "bikes-api", "--unknown-categories", "error")
    assert changed.exit_code == 0, changed.output
    assert "revision 2" in changed.stdout
    assert "unknown categories: error; extra columns: ignore" in changed.stdout
    assert client.deployments.get("bikes-api").routes == [Route("bikes", 1)]

    both = cli("deploy", "update", "bikes-api", "--route", "bikes/2", "--extra-columns", "error")
    assert both.exit_code == 0, both.output
    deployment = client.deployments.get("bikes-api")
    assert deployment.revision == 3 and deployment.routes == [Route("bikes", 2)]
    assert deployment.input_policy.extra_columns == "error"

    assert "is not a choice" in user_error(
        cli("deploy", "update", "bikes-api", "--extra-columns", "drop")
    )
    assert "nothing to change" in user_error(cli("deploy", "update", "bikes-api"))
    assert "'warn' is not a choice" in user_error(
        cli("deploy", "create", "other", "bikes/1", "--unknown-categories", "warn")
    )
    assert client.deployments.get("bikes-api").revision == 3
