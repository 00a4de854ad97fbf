"""Webhooks against real HTTP receivers on loopback: signed, retried with backoff, dead
letters, redelivery, and nothing lost while a receiver is down."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loopml.controller import Controller
from loopml.errors import PermissionDeniedError, ValidationError
from loopml.events import WebhookDispatcher, verify
from loopml.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from loopml.sdk import Client
from tests.deployments.helpers import bike_hours, register_ridge
from tests.events.receivers import Receiver

Make = Callable[..., Receiver]


def _changes(client: Client) -> None:
    """Two published events: a version registered, then an alias moved to it."""
    version = register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    client.models.registry.set_alias("bikes", "staging", version.version)


def _dispatcher(client: Client, **options: float) -> WebhookDispatcher:
    options.setdefault("backoff_s", 10.0)
    return WebhookDispatcher(client.stores, **options)  # type: ignore[arg-type]


def test_a_receiver_gets_signed_events_it_can_verify(any_client: Client, receiver: Make) -> None:
    hook = receiver()
    added = any_client.webhooks.add("ops", hook.url)
    _changes(any_client)

    report = _dispatcher(any_client).dispatch()

    assert (report.recorded, report.delivered, report.dead) == (2, 2, 0)
    types = [r.json["type"] for r in hook.received]
    assert types == ["version.registered", "alias.moved"]
    for got in hook.received:
        stamp, signed = got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER]
        assert verify(added.secret, got.body, stamp, signed)
        assert not verify(added.secret, got.body + b" ", stamp, signed)  # body altered
        assert not verify("whsec_other", got.body, stamp, signed)  # wrong secret
        assert not verify(added.secret, got.body, stamp, signed, now=int(stamp) + 3600)
    moved = hook.received[1].json
    assert moved["object"] == "model:bikes@staging" and moved["id"] == f"evt-{moved['audit_seq']}"
    history = any_client.webhooks.deliveries("ops")
    assert {d.state for d in history} == {"delivered"}
    assert all(d.attempts == 1 and d.last_status == 200 for d in history)
    assert _dispatcher(any_client).dispatch().idle  # nothing is sent twice


def test_a_webhook_gets_the_events_after_it_was_added_and_only_those_it_asked_for(
    client: Client, receiver: Make
) -> None:
    register_ridge(client, bike_hours(), "bikes", alpha=1.0)  # before: not sent
    hook = receiver()
    client.webhooks.add("aliases", hook.url, ["alias.*"])
    _changes(client)

    _dispatcher(client).dispatch()

    assert [r.json["type"] for r in hook.received] == ["alias.moved"]


def test_slack_format_sends_blocks_and_fallback_text(client: Client, receiver: Make) -> None:
    hook = receiver()
    client.webhooks.add("chat", hook.url, ["alias.moved"], format="slack")
    _changes(client)

    _dispatcher(client).dispatch()

    [message] = [r.json for r in hook.received]
    assert message["text"] == "Alias moved: model:bikes@staging"
    assert message["blocks"][0]["type"] == "section"
    assert "alias.moved" in message["blocks"][-1]["elements"][0]["text"]


@pytest.mark.slow
def test_a_slow_receiver_times_out_and_the_retry_is_delivered(
    client: Client, receiver: Make
) -> None:
    hook = receiver(delay_s=1.5, slow_first=1)
    client.webhooks.add("slow", hook.url, ["alias.moved"])
    _changes(client)
    dispatcher = _dispatcher(client, timeout_s=0.3, backoff_s=10.0)
    now = time.time()

    first = dispatcher.dispatch(now)
    [pending] = client.webhooks.deliveries("slow")
    assert (first.retrying, pending.state, pending.attempts) == (1, "pending", 1)
    assert "timed out after 0.3 s" in (pending.last_error or "")
    assert pending.next_attempt_at == pytest.approx(now + 10.0)
    assert dispatcher.dispatch(now + 5).idle  # not due yet

    second = dispatcher.dispatch(now + 10)
    [done] = client.webhooks.deliveries("slow")
    assert (second.delivered, done.state, done.attempts) == (1, "delivered", 2)
    assert [t["status"] for t in done.tries] == [None, 200]


def test_a_failing_receiver_is_retried_with_growing_backoff_until_it_recovers(
    client: Client, receiver: Make
) -> None:
    hook = receiver(fail_first=2)
    client.webhooks.add("flaky", hook.url, ["alias.moved"], max_attempts=5)
    _changes(client)
    dispatcher = _dispatcher(client, backoff_s=10.0)
    now = time.time()

    dispatcher.dispatch(now)
    [after_one] = client.webhooks.deliveries("flaky")
    assert after_one.next_attempt_at == pytest.approx(now + 10.0)
    dispatcher.dispatch(now + 10)
    [after_two] = client.webhooks.deliveries("flaky")
    assert after_two.next_attempt_at == pytest.approx(now + 10 + 20.0)  # doubled
    dispatcher.dispatch(now + 30)

    [done] = client.webhooks.deliveries("flaky")
    assert done.state == "delivered"
    assert [t["status"] for t in done.tries] == [503, 503, 200]
    assert len(hook.received) == 1


def test_a_receiver_that_keeps_failing_gets_a_dead_letter_that_can_be_redelivered(
    client: Client, receiver: Make
) -> None:
    hook = receiver(status=500)
    client.webhooks.add("broken", hook.url, ["alias.moved"], max_attempts=3)
    _changes(client)
    dispatcher = _dispatcher(client, backoff_s=1.0)
    now = time.time()
    for later in (0, 1, 3):
        dispatcher.dispatch(now + later)

    [dead] = client.webhooks.deliveries("broken", state="dead")
    assert dead.attempts == 3 and [t["status"] for t in dead.tries] == [500, 500, 500]
    assert dispatcher.dispatch(now + 1000).idle  # a dead letter is not retried by itself
    assert hook.received == []

    hook.behaviour.status = 200  # the receiver is fixed
    again = client.webhooks.redeliver(dead.id)
    assert (again.state, again.attempts, len(again.tries)) == ("pending", 0, 3)
    dispatcher.dispatch(time.time())
    [done] = client.webhooks.deliveries("broken")
    assert done.state == "delivered" and len(hook.received) == 1


def test_events_are_kept_while_the_receiver_is_down_and_delivered_when_it_is_back(
    client: Client, receiver: Make
) -> None:
    hook = receiver(start=False)  # nothing listens on its port yet
    client.webhooks.add("later", hook.url)
    _changes(client)
    loop = Controller(
        client, compact_logs_every_s=None, webhooks=_dispatcher(client, backoff_s=5.0)
    )
    now = time.time()

    down = loop.reconcile_once(now)
    assert down.webhooks.retrying == 1 and hook.received == []
    later, first = client.webhooks.deliveries()  # newest event first
    assert "ConnectError" in (first.last_error or "")
    assert later.attempts == 0  # not tried against a receiver that just failed

    hook.start()
    up = loop.reconcile_once(now + 60)  # past the backoff
    assert up.webhooks.delivered == 2
    assert [r.json["type"] for r in hook.received] == ["version.registered", "alias.moved"]
    assert any("webhooks: 2 delivered" in line for line in up.lines())


def test_two_dispatchers_record_each_event_once(client: Client, receiver: Make) -> None:
    hook = receiver()
    client.webhooks.add("once", hook.url)
    _changes(client)

    assert _dispatcher(client).fan_out() == 2
    assert _dispatcher(client).fan_out() == 0
    _dispatcher(client).dispatch()
    _dispatcher(client).dispatch()
    assert len(hook.received) == 2


def test_removing_a_webhook_stops_its_deliveries(client: Client, receiver: Make) -> None:
    hook = receiver()
    client.webhooks.add("gone", hook.url)
    _changes(client)
    client.webhooks.remove("gone")

    assert _dispatcher(client).dispatch().idle
    assert client.webhooks.list() == [] and hook.received == []


# ------------------------------------------------------------------ attacker tests
@pytest.fixture
def editor(client: Client, make_client: Callable[..., Client], tmp_path: Path) -> Client:
    client.models.identity.create_principal("erin", "editor")
    return make_client(root=tmp_path / "ws", token=client.models.identity.create_token("erin"))


def test_an_editor_cannot_add_or_remove_a_webhook(
    client: Client, editor: Client, receiver: Make
) -> None:
    with pytest.raises(PermissionDeniedError, match=r"erin \(editor\) may not add webhooks"):
        editor.webhooks.add("mine", "https://attacker.example/collect")
    assert client.webhooks.list() == []

    client.webhooks.add("ops", "https://hooks.example.com/services/T000/B000/XXXX")
    with pytest.raises(PermissionDeniedError, match="may not remove webhooks"):
        editor.webhooks.remove("ops")
    [seen] = editor.webhooks.list()
    assert seen.url == "https://hooks.example.com/…"  # the secret path stays with admins
    [full] = client.webhooks.list()
    assert full.url.endswith("/XXXX") and "secret" not in full.to_dict()  # shown once only


def test_a_viewer_cannot_redeliver(
    client: Client, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    client.models.identity.create_principal("vic", "viewer")
    viewer = make_client(root=tmp_path / "ws", token=client.models.identity.create_token("vic"))
    with pytest.raises(PermissionDeniedError, match=r"vic \(viewer\) may not redeliver"):
        viewer.webhooks.redeliver("dl-anything")
    assert viewer.webhooks.list() == []  # reading is allowed


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "javascript:alert(1)",
        "hooks.example.com/x",
        "http:///no-host",
    ],
)
def test_a_webhook_url_must_be_http_or_https_with_a_host(client: Client, url: str) -> None:
    with pytest.raises(ValidationError, match="webhook URL"):
        client.webhooks.add("bad", url)
    assert client.webhooks.list() == []


def test_unknown_events_and_formats_are_refused_with_the_choices(client: Client) -> None:
    with pytest.raises(ValidationError, match=r"unknown event 'model.deleted'.*alias.moved"):
        client.webhooks.add("x", "https://h.example/x", ["model.deleted"])
    with pytest.raises(ValidationError, match="format must be one of json, slack"):
        client.webhooks.add("x", "https://h.example/x", format="xml")
