"""Published events are read off the audit trail that real changes write."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.events import event_of
from loopml.events.catalog import check_patterns, matches
from loopml.events.formats import slack
from loopml.governance import list_events
from loopml.sdk import Client
from tests.deployments.helpers import bike_hours, open_traffic, register_ridge


def _published(client: Client) -> list[tuple[str, str]]:
    found = (event_of(e) for e in list_events(client.stores.engine))
    return [(e.type, e.object) for e in found if e is not None]


def test_an_approval_and_a_rollout_publish_their_events(client: Client) -> None:
    open_traffic(client)
    hours = bike_hours()
    client.models.registry.create_model("bikes")
    client.models.set_policy("bikes", {"auto_approve": True})
    first = register_ridge(client, hours, "bikes", alpha=1.0)
    request = client.models.request(first.uri)
    register_ridge(client, hours, "bikes", alpha=2.0)
    client.deployments.create("bikes-api", "bikes/1")
    rollout = client.rollouts.start("bikes-api", "bikes/2", {"steps": [50, 100]})
    client.rollouts.abort("bikes-api", reason="not today")

    assert _published(client) == [
        ("version.registered", "model:bikes/1"),
        ("approval.requested", f"request:{request.id}"),
        ("approval.decided", f"request:{request.id}"),
        ("alias.moved", "model:bikes@champion"),
        ("version.registered", "model:bikes/2"),
        ("rollout.started", rollout.uri),
        ("rollout.aborted", rollout.uri),
    ]
    decided = next(
        e for e in map(event_of, list_events(client.stores.engine))
        if e is not None and e.type == "approval.decided"
    )  # fmt: skip
    assert decided.details["decision"] == "approved"
    message = slack(decided)
    assert message["text"] == f"Approval decided: request:{request.id}"
    assert "*decision*: approved" in message["blocks"][1]["text"]["text"]


def test_patterns_name_types_groups_or_everything() -> None:
    assert check_patterns(None) == ["*"]
    assert check_patterns("rollout.*, alert.opened") == ["rollout.*", "alert.opened"]
    assert matches(["rollout.*"], "rollout.rolled_back")
    assert not matches(["rollout.*"], "alert.opened")
    assert matches(["*"], "trigger.fired") and matches(["trigger.fired"], "trigger.fired")
    with pytest.raises(ValidationError, match=r"unknown event 'rollouts\.\*'"):
        check_patterns(["rollouts.*"])
