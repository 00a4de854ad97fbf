"""Payload formats: the generic JSON document, and a Slack incoming-webhook message."""

from __future__ import annotations

import datetime
from typing import Any

from loopml.errors import ValidationError
from loopml.events.catalog import Event

FORMATS = ("json", "slack")

_TITLES = {
    "version.registered": "New model version registered",
    "approval.requested": "Approval requested",
    "approval.decided": "Approval decided",
    "alias.moved": "Alias moved",
    "alias.deleted": "Alias removed",
    "rollout.started": "Rollout started",
    "rollout.step_passed": "Rollout step passed",
    "rollout.promoted": "Rollout promoted",
    "rollout.rolled_back": "Rollout rolled back",
    "rollout.aborted": "Rollout aborted",
    "alert.opened": "Alert opened",
    "alert.resolved": "Alert resolved",
    "trigger.fired": "Trigger fired",
    "replay.evaluated": "Replay evaluated",
}
_KEYS = (  # details worth a line in a chat message, in this order
    "deployment",
    "candidate",
    "stable",
    "state",
    "step",
    "weight",
    "decision",
    "alias",
    "version",
    "target",
    "severity",
    "rule",
    "monitor",
    "pipeline",
    "cause",
    "passed",
    "reasons",
    "reason",
)


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}, got {name!r}")
    return name


def render(event: Event, fmt: str) -> dict[str, Any]:
    """The body sent for `event` in format `fmt`."""
    if fmt == "slack":
        return slack(event)
    return event.to_dict()


def summary(event: Event) -> str:
    """One line for people: what happened to which object."""
    title = _TITLES.get(event.type, event.type)
    return f"{title}: {event.object}"


def slack(event: Event) -> dict[str, Any]:
    """Slack blocks (and `text`, the notification fallback) for one event."""
    facts = [
        f"*{key}*: {_short(event.details[key])}"
        for key in _KEYS
        if event.details.get(key) is not None
    ]
    when = datetime.datetime.fromtimestamp(event.time, datetime.UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary(event)}*"}},
    ]
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{event.type} · by {event.actor} · {when} · {event.id}",
                }
            ],
        }
    )
    return {"text": summary(event), "blocks": blocks}


def _short(value: Any, limit: int = 200) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
