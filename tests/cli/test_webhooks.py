"""`loopml webhook add | list | remove | deliveries | redeliver` against a real receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from loopml.events import WebhookDispatcher, verify
from loopml.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from loopml.sdk import Client
from tests.cli.helpers import Invoke, table_rows, user_error
from tests.deployments.helpers import bike_hours, register_ridge
from tests.events.receivers import Behaviour, Receiver


@pytest.fixture
def failing() -> Iterator[Receiver]:
    hook = Receiver(Behaviour(status=500)).start()
    yield hook
    hook.stop()


def test_add_deliver_dead_letter_and_redeliver(
    cli: Invoke, client: Client, failing: Receiver
) -> None:
    added = cli(
        "webhook",
        "add",
        "ops",
        failing.url,
        "--event",
        "version.*",
        "--max-attempts",
        "1",
        "--json",
    )
    assert added.exit_code == 0, added.output
    made = json.loads(added.stdout)
    assert made["secret"].startswith("whsec_") and made["events"] == ["version.*"]
    assert "shown once" in added.stderr
    rows = table_rows(cli("webhook", "list").stdout)
    assert rows[0][:2] == ["ops", failing.url]

    register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    WebhookDispatcher(client.stores).dispatch()
    dead = json.loads(cli("webhook", "deliveries", "ops", "--state", "dead", "--json").stdout)
    assert [d["event_type"] for d in dead] == ["version.registered"]
    assert "HTTP 500" in cli("webhook", "deliveries").stdout

    failing.behaviour.status = 200
    again = cli("webhook", "redeliver", dead[0]["id"])
    assert again.exit_code == 0 and "queued" in again.stdout
    WebhookDispatcher(client.stores).dispatch()
    [got] = failing.received
    assert verify(
        made["secret"], got.body, got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER]
    )
    assert json.loads(cli("webhook", "deliveries", "--json").stdout)[0]["state"] == "delivered"

    removed = cli("webhook", "remove", "ops")
    assert removed.exit_code == 0 and table_rows(cli("webhook", "list").stdout) == []


def test_an_editor_cannot_add_and_a_bad_url_is_refused(cli: Invoke, client: Client) -> None:
    client.models.identity.create_principal("erin", "editor")
    token = client.models.identity.create_token("erin")
    denied = cli("webhook", "add", "x", "https://h.example/x", token=token)
    assert "may not add webhooks" in user_error(denied)
    bad = cli("webhook", "add", "x", "file:///etc/passwd")
    assert "must use http or https" in user_error(bad)
    assert client.webhooks.list() == []
