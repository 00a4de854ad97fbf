"""Where alert changes go once they are stored: a log line, webhooks.

The store is always the first sink (the loop's triggers read it), so a sink that fails
loses nothing: delivery failures are logged and never raised. Sinks are configured as
strings: `"log"`, `"webhook:https://…"` (and `"store"`, accepted because it is always on).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from loopml.config.egress import EgressPolicy
from loopml.errors import ValidationError

log = logging.getLogger("loopml.alerts")

Event = Literal["opened", "resolved"]
WEBHOOK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class AlertEvent:
    """One opened or resolved alert, as sinks receive it."""

    event: Event
    alert: dict[str, Any]  # `Alert.to_dict()`
    monitor: str
    result: str  # the monitor result that opened or resolved it
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "alert": self.alert,
            "monitor": self.monitor,
            "result": self.result,
            "message": self.message,
        }


class AlertSink(Protocol):
    """Delivers events; must not raise (the alert is already stored)."""

    def send(self, event: AlertEvent) -> None: ...


class LogSink:
    """One line per event on the `loopml.alerts` logger: WARNING opened, INFO resolved."""

    def send(self, event: AlertEvent) -> None:
        alert = event.alert
        level = logging.WARNING if event.event == "opened" else logging.INFO
        log.log(
            level,
            "alert %s %s [%s] monitor=%s rule=%s subject=%s: %s",
            alert["id"],
            event.event,
            alert["severity"],
            event.monitor,
            alert["rule"],
            alert["subject"],
            event.message,
        )


@dataclass(frozen=True)
class WebhookSink:
    """POSTs each event as JSON to `url`; failures are logged, never raised. `egress` says
    which addresses may be called (checked when configured and again before each call)."""

    url: str
    timeout_s: float = WEBHOOK_TIMEOUT_S
    egress: EgressPolicy = field(default_factory=EgressPolicy)

    def __post_init__(self) -> None:
        check_url(self.url)
        self.egress.check_url(self.url)

    def send(self, event: AlertEvent) -> None:
        try:
            self.egress.check_call(self.url)
        except ValidationError as exc:
            log.warning("webhook not called for alert %s: %s", event.alert["id"], exc)
            return
        try:
            response = httpx.post(self.url, json=event.to_dict(), timeout=self.timeout_s)
        except (httpx.HTTPError, OSError) as exc:
            log.warning("webhook %s failed for alert %s: %s", self.url, event.alert["id"], exc)
            return
        if response.status_code >= 300:
            log.warning(
                "webhook %s answered %d for alert %s",
                self.url,
                response.status_code,
                event.alert["id"],
            )


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a ValidationError saying so."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"webhook URL {url!r} is invalid: use http://HOST[:PORT]/PATH or https://…"
        )
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as exc:
        raise ValidationError(f"webhook URL {url!r} has an invalid port") from exc
    return url


def parse_sinks(
    specs: Sequence[str | AlertSink], egress: EgressPolicy | None = None
) -> list[AlertSink]:
    """Sinks from their configured strings (objects with `send` pass through); webhooks
    follow `egress` (none: any host)."""
    sinks: list[AlertSink] = []
    for spec in specs:
        if not isinstance(spec, str):
            sinks.append(spec)
        elif spec == "store":
            continue
        elif spec == "log":
            sinks.append(LogSink())
        elif spec.startswith("webhook:"):
            sinks.append(
                WebhookSink(spec.removeprefix("webhook:"), egress=egress or EgressPolicy())
            )
        else:
            raise ValidationError(
                f"alert sink {spec!r} is unknown: use 'log', 'store' or 'webhook:http(s)://…'"
            )
    return sinks


def deliver(sinks: Sequence[AlertSink], events: Sequence[AlertEvent]) -> None:
    """Every event to every sink; one failing sink does not stop the others."""
    for event in events:
        for sink in sinks:
            try:
                sink.send(event)
            except Exception:
                log.exception("alert sink %r failed for alert %s", sink, event.alert.get("id"))
