"""Alerts in the store (SQLite and PostgreSQL): open, dedupe, resolve, reopen, race; sinks."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from loopml.config.egress import EgressPolicy
from loopml.errors import NotFoundError, ValidationError
from loopml.governance import list_events, verify_chain
from loopml.monitoring.alerts.rules import AlertRule
from loopml.monitoring.alerts.service import AlertService, open_key, parse_rule
from loopml.monitoring.alerts.sinks import AlertEvent, WebhookSink, check_url, parse_sinks
from loopml.monitoring.results import LatencyResult, PerformanceResult, WindowResult
from loopml.sdk import Client
from loopml.store import Stores
from loopml.store.schema import alerts, monitor_results, monitors

R2 = AlertRule.parse("metric_below:r2:0.5")
ERRORS = AlertRule.parse("error_rate_above:0.05:*@critical")


def quality(r2: float | None, status: str = "ok") -> WindowResult:
    metrics = {} if status != "ok" else {"r2": r2, "mae": 1.0, "rmse": 1.0}
    result = PerformanceResult("regression", 100, 60 if status == "ok" else 0, metrics, status)
    return WindowResult("w", 0.0, 60.0, 100, None, result)


def errors(**rates: int) -> WindowResult:
    """Latency results with `errors` out of 100 requests per model version."""
    items = [
        LatencyResult(f"model:bikes/{v.removeprefix('v')}", 100, n, 10.0, 20.0, 30.0)
        for v, n in rates.items()
    ]
    total = LatencyResult(None, 100 * len(items), sum(rates.values()), 10.0, 20.0, 30.0)
    return WindowResult("w", 0.0, 60.0, 100, None, None, [total, *items])


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def stores(request: pytest.FixtureRequest, make_client: Callable[..., Client]) -> Stores:
    client = make_client(request.param)
    now = time.time()
    with client.stores.engine.begin() as conn:
        for name in ("bikes", "churn"):
            conn.execute(
                monitors.insert().values(
                    name=name,
                    source={"deployment": name},
                    reference=None,
                    config={},
                    cursor=None,
                    next_run_at=None,
                    created_by="test",
                    created_at=now,
                    updated_at=now,
                )
            )
    return client.stores


def test_an_alert_opens_persists_once_and_resolves(stores: Stores) -> None:
    service = AlertService(stores, sinks=[])
    first = service.apply("bikes", "mres-1", [R2], quality(0.42))
    (alert,) = first.opened
    assert alert.id.startswith("alert-") and alert.state == "open" and alert.occurrences == 1
    assert (alert.rule, alert.subject, alert.severity) == ("metric_below:r2:0.5", "r2", "warning")
    assert (alert.value, alert.threshold, alert.first_result) == (0.42, 0.5, "mres-1")
    assert alert.message == "r2 0.42 < 0.5 over 60 labelled rows"
    for n, r2 in enumerate([0.40, 0.30], start=2):
        again = service.apply("bikes", f"mres-{n}", [R2], quality(r2))
        assert again.opened == [] and [a.id for a in again.still_open] == [alert.id]
    seen = service.get(alert.id)
    assert (seen.occurrences, seen.last_result, seen.value) == (3, "mres-3", 0.30)
    assert seen.first_result == "mres-1" and seen.last_seen_at >= alert.opened_at
    # labels stopped coming: nothing is known, nothing changes
    unknown = service.apply("bikes", "mres-4", [R2], quality(None, "no_labels"))
    assert unknown.resolved == [] and [c.state for c in unknown.unknown] == ["unknown"]
    assert service.get(alert.id).state == "open"
    cleared = service.apply("bikes", "mres-5", [R2], quality(0.8))
    (resolved,) = cleared.resolved
    assert resolved.id == alert.id and resolved.state == "resolved"
    assert resolved.last_result == "mres-5" and resolved.resolved_at is not None
    assert service.apply("bikes", "mres-6", [R2], quality(0.9)).resolved == []
    with stores.engine.connect() as conn:
        assert conn.execute(select(alerts.c.open_key)).scalar_one() is None


def test_the_condition_returning_opens_a_new_alert(stores: Stores) -> None:
    service = AlertService(stores, sinks=[])
    old = service.apply("bikes", "mres-1", [R2], quality(0.1)).opened[0]
    service.apply("bikes", "mres-2", [R2], quality(0.9))
    new = service.apply("bikes", "mres-3", [R2], quality(0.2)).opened[0]
    assert new.id != old.id and new.occurrences == 1 and new.first_result == "mres-3"
    assert [a.state for a in service.list("bikes")] == ["open", "resolved"]
    assert [a.id for a in service.list(state="open")] == [new.id]
    assert [a.id for a in service.list("bikes", state="resolved")] == [old.id]
    assert service.list("churn") == []


def test_one_alert_per_subject_and_per_monitor(stores: Stores) -> None:
    service = AlertService(stores, sinks=[])
    changes = service.apply("bikes", "mres-1", [ERRORS], errors(v3=1, v4=9, v5=7))
    assert sorted(a.subject for a in changes.opened) == ["model:bikes/4", "model:bikes/5"]
    assert {a.severity for a in changes.opened} == {"critical"}
    service.apply("churn", "mres-9", [ERRORS], errors(v4=9))  # another monitor, own alert
    later = service.apply("bikes", "mres-2", [ERRORS], errors(v3=1, v4=1))  # v5: no traffic
    assert [a.subject for a in later.resolved] == ["model:bikes/4"]
    assert [c.subject for c in later.unknown] == []
    still = {a.subject for a in service.list("bikes", state="open")}
    assert still == {"model:bikes/5"}
    assert len(service.list("churn", state="open")) == 1


def test_opening_and_resolving_are_audited(stores: Stores) -> None:
    service = AlertService(stores, sinks=[])
    opened = service.apply("bikes", "mres-1", [R2], quality(0.1)).opened[0]
    service.apply("bikes", "mres-2", [R2], quality(0.2))  # still open: not news
    service.apply("bikes", "mres-3", [R2], quality(0.9))
    events = [
        e for e in list_events(stores.engine, "monitor:bikes") if e.action.startswith("alert")
    ]
    assert [e.action for e in events] == ["alert.open", "alert.resolve"]
    assert events[0].details["alert"] == opened.id and events[0].details["result"] == "mres-1"
    assert events[1].details["result"] == "mres-3" and events[0].actor == stores.actor.name
    assert verify_chain(stores.engine).ok


def test_a_concurrent_opener_finds_the_alert_already_open(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run that loses the race hits the unique open key and refreshes the winner's."""
    service = AlertService(stores, sinks=[])
    winner = service.apply("bikes", "mres-1", [R2], quality(0.1)).opened[0]
    monkeypatch.setattr(AlertService, "_open", lambda self, conn, monitor: [])  # a stale read
    late = service.apply("bikes", "mres-2", [R2], quality(0.2))
    assert late.opened == [] and [a.id for a in late.still_open] == [winner.id]
    assert service.get(winner.id).occurrences == 2
    assert len(service.list("bikes")) == 1


def test_two_threads_applying_the_same_condition_open_one_alert(stores: Stores) -> None:
    service = AlertService(stores, sinks=[])
    failures: list[BaseException] = []

    def run(barrier: threading.Barrier, result_id: str) -> None:
        try:
            barrier.wait()
            service.apply("bikes", result_id, [R2], quality(0.1))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    for round_ in range(3):
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=run, args=(barrier, f"mres-{round_}-{n}")) for n in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        (alert,) = service.list("bikes", state="open")
        assert alert.occurrences == 2 * (round_ + 1)
    assert len(service.list("bikes")) == 1


def test_reads_and_bad_arguments(stores: Stores) -> None:
    service = AlertService(stores, sinks=[])
    with pytest.raises(NotFoundError, match="alert-nope"):
        service.get("alert-nope")
    with pytest.raises(ValidationError, match="state"):
        service.list(state="closed")
    with pytest.raises(ValidationError, match="sink"):
        service.check_sinks(["email:ops@example.com"])


def test_parse_rule_and_open_keys() -> None:
    assert parse_rule("metric_below:r2:0.5") == parse_rule(R2.to_dict()) == parse_rule(R2) == R2
    assert open_key("bikes", "dataset_drift", "dataset") == "bikes\x1fdataset_drift\x1fdataset"
    long = open_key("m" * 250, "r" * 250, "s" * 250)
    assert len(long) <= 502 and long.startswith("m" * 250 + "\x1fsha256:")


# ---------------------------------------------------------------------- sinks
class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    """A real webhook receiver on loopback: its URL and the handler class (with its inbox)."""
    handler = type("Inbox", (Hook,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhooks_and_log_lines_hear_opened_and_resolved(
    stores: Stores, hook: tuple[str, type[Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    url, inbox = hook
    service = AlertService(stores, sinks=["store", "log", f"webhook:{url}"])
    with caplog.at_level(logging.INFO, logger="loopml.alerts"):
        opened = service.apply("bikes", "mres-1", [R2], quality(0.1)).opened[0]
        service.apply("bikes", "mres-2", [R2], quality(0.2))
        service.apply("bikes", "mres-3", [R2], quality(0.9))
    assert [m["event"] for m in inbox.received] == ["opened", "resolved"]
    first = inbox.received[0]
    assert first["monitor"] == "bikes" and first["result"] == "mres-1"
    assert first["alert"]["id"] == opened.id and first["alert"]["state"] == "open"
    assert inbox.received[1]["alert"]["state"] == "resolved"
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "loopml.alerts"]
    assert [level for level, _ in lines] == [logging.WARNING, logging.INFO]
    assert (
        f"alert {opened.id} opened [warning] monitor=bikes rule=metric_below:r2:0.5"
        in (lines[0][1])
    )


@pytest.mark.parametrize("failure", ["error status", "unreachable"])
def test_a_failing_webhook_loses_no_alert_and_raises_nothing(
    stores: Stores,
    hook: tuple[str, type[Hook]],
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    url, inbox = hook
    if failure == "error status":
        inbox.status = 500
    else:
        url = f"http://127.0.0.1:{_closed_port()}/hook"
    service = AlertService(stores, sinks=[])
    with caplog.at_level(logging.WARNING, logger="loopml.alerts"):
        changes = service.apply("bikes", "mres-1", [R2], quality(0.1), sinks=[f"webhook:{url}"])
    assert service.get(changes.opened[0].id).state == "open"
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert f"webhook {url}" in warning
    assert ("answered 500" in warning) == (failure == "error status")


def test_a_sink_that_raises_does_not_stop_the_others(stores: Stores) -> None:
    got: list[AlertEvent] = []

    class Broken:
        def send(self, event: AlertEvent) -> None:
            raise RuntimeError("boom")

    class Keeper:
        def send(self, event: AlertEvent) -> None:
            got.append(event)

    service = AlertService(stores, sinks=[Broken(), Keeper()])
    service.apply("bikes", "mres-1", [R2], quality(0.1))
    assert [e.event for e in got] == ["opened"]


@pytest.mark.parametrize(
    "spec",
    ["webhook:ftp://example.com/x", "webhook:http://", "webhook:nohost", "webhook:http://h:99999/"],
)
def test_bad_webhook_urls_are_refused(spec: str) -> None:
    with pytest.raises(ValidationError, match="webhook URL"):
        parse_sinks([spec])


def test_good_sinks() -> None:
    sinks = parse_sinks(["store", "log", "webhook:https://hooks.example.com/a?b=1"])
    assert len(sinks) == 2 and isinstance(sinks[1], WebhookSink)
    assert check_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"


def test_an_alert_resolves_only_after_k_clean_windows(stores: Stores) -> None:
    """A metric flickering around its threshold keeps one alert open (hysteresis)."""
    service = AlertService(stores, sinks=[])
    windows = [quality(0.42), quality(0.6), quality(0.45), quality(0.6)]
    windows += [quality(None, "no_labels"), quality(0.7)]
    changes = []
    for seq, window in enumerate(windows, start=1):
        result_id = f"mres-h{seq}"
        with stores.engine.begin() as conn:
            conn.execute(
                monitor_results.insert().values(
                    id=result_id,
                    monitor="bikes",
                    seq=seq,
                    window_start=0.0,
                    window_end=60.0,
                    label="w",
                    status="ok",
                    dataset_drift=None,
                    drift_share=None,
                    rows=100,
                    summary=window.to_dict(),
                    created_by="test",
                    created_at=time.time(),
                )
            )
        changes.append(service.apply("bikes", result_id, [R2], window, resolve_after=2))
    (alert,) = changes[0].opened
    assert [len(c.clearing) for c in changes] == [0, 1, 0, 1, 0, 0]
    assert [len(c.still_open) for c in changes] == [0, 0, 1, 0, 0, 0]
    assert len(changes[4].unknown) == 1  # no labels: neither clean nor firing
    assert [a.id for a in changes[5].resolved] == [alert.id]
    assert [a.id for a in service.list(monitor="bikes")] == [alert.id]  # one alert, not three
    with pytest.raises(ValidationError):
        parse_rule("metric_below:r2")


def test_a_webhook_refused_by_the_egress_policy_is_not_called_and_loses_no_alert(
    stores: Stores, hook: tuple[str, type[Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    url, inbox = hook
    closed = AlertService(dataclasses.replace(stores, settings=_server(stores)))
    with pytest.raises(ValidationError, match="webhook_hosts"):
        closed.check_sinks([f"webhook:{url}"])
    refusing = WebhookSink(url)  # configured before the policy closed: checked again at the call
    object.__setattr__(refusing, "egress", EgressPolicy(private_ok=False))
    with caplog.at_level(logging.WARNING, logger="loopml.alerts"):
        changes = closed.apply("bikes", "mres-1", [R2], quality(0.1), sinks=[refusing])
    assert inbox.received == []
    assert closed.get(changes.opened[0].id).state == "open"
    assert "webhook not called" in " ".join(r.getMessage() for r in caplog.records)
    port = url.split(":")[2].split("/")[0]
    listed = _server(stores, webhook_hosts=(f"127.0.0.1:{port}",))
    allowed = AlertService(dataclasses.replace(stores, settings=listed))
    allowed.apply("churn", "mres-2", [R2], quality(0.1), sinks=[f"webhook:{url}"])
    assert [m["event"] for m in inbox.received] == ["opened"]


def _server(stores: Stores, **changes: Any) -> Any:
    """The stores' settings as `loopml server` holds them: inward webhooks refused."""
    return stores.settings.model_copy(update={"webhook_private_hosts": False, **changes})
