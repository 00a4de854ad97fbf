"""`loopml deploy policy …` and `--override-policy`, on the default traffic policy: the
editor's `deploy blue-green … --no-smoke-test` of an unapproved version is refused from the
shell too, and only an admin with a reason overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.governance import list_events
from loopml.sdk import Client
from tests.cli.helpers import Invoke, field, table_rows, user_error
from tests.deployments.helpers import bike_hours, register_ridge


@pytest.fixture
def erin(client: Client) -> str:
    """An editor's token; versions 1 and 2 of `bikes` exist, none approved."""
    for alpha in (1.0, 2.0):
        register_ridge(client, bike_hours(), "bikes", alpha=alpha)
    client.models.identity.create_principal("erin", "editor")
    return client.models.identity.create_token("erin")


def _routes(cli: Invoke, name: str = "bikes-api") -> list[dict[str, object]]:
    routes: list[dict[str, object]] = json.loads(cli("deploy", "show", name, "--json").stdout)[
        "routes"
    ]
    return routes


def test_the_first_deployment_needs_champion_or_an_admins_reason(
    cli: Invoke, client: Client, erin: str
) -> None:
    user_error(
        cli("deploy", "create", "bikes-api", "bikes/1", token=erin),
        "create of deployment 'bikes-api' refused",
        "model:bikes/1 would get 100% of the traffic",
        "loopml models request model:bikes/1 --alias champion",
    )
    user_error(
        cli("deploy", "create", "bikes-api", "bikes/1", "--override-policy"),
        "--override-policy needs --reason",
    )
    user_error(
        cli("deploy", "create", "bikes-api", "bikes/1", "--override-policy", "--reason", " "),
        "--override-policy needs --reason",
    )
    assert client.deployments.list() == []
    made = cli(
        "deploy", "create", "bikes-api", "bikes/1", "--override-policy", "--reason", "first one"
    )
    assert made.exit_code == 0, made.output
    event = list_events(client.stores.engine, obj="deployment:bikes-api")[-1]
    assert event.details["policy"]["override"]["reason"] == "first one"


def test_an_editor_cannot_switch_traffic_to_an_unapproved_version(
    cli: Invoke, client: Client, erin: str
) -> None:
    client.deployments.create("bikes-api", "bikes/1", override_reason="bootstrap")
    before = _routes(cli)
    for args in (
        ("blue-green", "bikes-api", "model:bikes/2", "--no-smoke-test"),
        ("promote", "bikes-api", "model:bikes/2"),
        ("canary", "bikes-api", "model:bikes/2", "--weight", "10"),
        ("update", "bikes-api", "--route", "model:bikes/2=100"),
    ):
        user_error(cli("deploy", *args, token=erin), "model:bikes/2 would get", "refused")
        user_error(
            cli("deploy", *args, "--override-policy", "--reason", "urgent", token=erin),
            "erin (editor) may not override the traffic policy",
        )
    user_error(
        cli("rollout", "start", "bikes-api", "model:bikes/2", "--steps", "100", token=erin),
        "rollout start of deployment 'bikes-api' refused",
    )
    assert _routes(cli) == before == [{"model": "bikes", "version": 1, "weight": 100.0}]
    shadowed = cli("deploy", "shadow", "bikes-api", "model:bikes/2", token=erin)
    assert shadowed.exit_code == 0, shadowed.output  # a mirror answers nobody

    switched = cli(
        "deploy",
        "blue-green",
        "bikes-api",
        "model:bikes/2",
        "--override-policy",
        "--reason",
        "incident 9: v1 times out",
    )
    assert switched.exit_code == 0, switched.output
    assert table_rows(switched.stdout)[0] == ["model:bikes/2", "100%", "no"]
    history = json.loads(cli("deploy", "history", "bikes-api", "--json").stdout)
    assert history[-1]["reason"] == "incident 9: v1 times out"


def test_show_set_and_clear_the_policy(
    cli: Invoke, client: Client, erin: str, tmp_path: Path
) -> None:
    shown = cli("deploy", "policy", "show")
    assert shown.exit_code == 0, shown.output
    assert field(shown.stdout, "policy") == "the default traffic policy"
    assert field(shown.stdout, "more than 50%") == "holds the protected alias 'champion'"
    assert field(shown.stdout, "mirrored copy") == "any servable version"

    user_error(
        cli("deploy", "policy", "set", "--set", "max_partial_weight=90", token=erin),
        "erin (editor) may not set traffic policies",
    )
    changed = cli(
        "deploy",
        "policy",
        "set",
        "--set",
        "max_partial_weight=20",
        "--set",
        'partial_traffic=["approved", "alias:challenger"]',
        "--reason",
        "small canaries",
    )
    assert changed.exit_code == 0, changed.output
    assert field(changed.stdout, "policy") == "the workspace's traffic policy"
    assert field(changed.stdout, "reason") == "small canaries"
    assert "holds the alias 'challenger'" in field(changed.stdout, "up to 20%")
    data = json.loads(cli("deploy", "policy", "show", "--json").stdout)
    assert data["scope"] == "workspace" and data["policy"]["max_partial_weight"] == 20

    client.deployments.create("bikes-api", "bikes/1", override_reason="bootstrap")
    file = tmp_path / "staging.json"
    file.write_text(json.dumps({"full_traffic": ["any"], "partial_traffic": ["any"]}))
    own = cli("deploy", "policy", "set", "--deployment", "bikes-api", "--file", str(file))
    assert own.exit_code == 0, own.output
    assert field(own.stdout, "policy") == "the traffic policy of deployment 'bikes-api'"
    moved = cli("deploy", "promote", "bikes-api", "model:bikes/2", token=erin)
    assert moved.exit_code == 0, moved.output

    cleared = cli("deploy", "policy", "clear", "--deployment", "bikes-api", "--reason", "done")
    assert cleared.exit_code == 0, cleared.output
    assert field(cleared.stdout, "policy") == "the workspace's traffic policy"
    user_error(
        cli("deploy", "policy", "clear", "--deployment", "bikes-api"),
        "'bikes-api' has no traffic policy of its own",
    )


def test_policy_mistakes_are_one_line_errors(cli: Invoke, tmp_path: Path) -> None:
    user_error(cli("deploy", "policy", "set"), "exactly one of --file, --set")
    user_error(cli("deploy", "policy", "set", "--open", "--set", "x=1"), "exactly one of")
    user_error(
        cli("deploy", "policy", "set", "--set", 'full_traffic=["approvd"]'),
        "unknown rule 'approvd'",
    )
    user_error(cli("deploy", "policy", "set", "--set", "max_partial_weight=0"), "max_partial")
    user_error(cli("deploy", "policy", "show", "--deployment", "nope"), "no deployment 'nope'")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    user_error(cli("deploy", "policy", "set", "--file", str(bad)), "must hold a JSON object")
