"""Event time: when what a request describes happened, as opposed to when it arrived.

Live traffic happens now, but a replay or a backfill of last month's requests arrives
today about last month. A client says so with an event timestamp — the body's top-level
`event_time` field or the `X-Event-Time` header — as epoch seconds or an ISO 8601
date-time (`2011-07-04T17:00:00Z`; without an offset it is read as UTC). The prediction
and feedback logs keep it beside the arrival time, and a monitor with
`time_basis="event"` cuts its windows on it.

A timestamp that cannot be read, or lies beyond the end of tomorrow (UTC), is refused
with HTTP 422: a wrong event time would file the request in the wrong window for good,
which is worse than asking the client to fix it. The limit moves a day at a time rather
than with the clock, so the OpenAPI document can state it exactly: a body valid by the
document stays valid (slack for skewed clocks and time zones: one to two days).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from loopml.serving.errors import ServingError

EVENT_TIME_HEADER = "x-event-time"
EVENT_TIME_FIELD = "event_time"
DAY_S = 86_400.0
_MILLISECONDS = 1e11  # an epoch beyond this (year 5138) was most likely sent in ms
_HINT = (
    "send epoch seconds (e.g. 1309798800) or an ISO 8601 date-time (e.g. "
    "2011-07-04T17:00:00Z), in the body's event_time field or the X-Event-Time header"
)


def event_time_of(header: str | None, body: Any, now: float) -> float | None:
    """The request's event time from the header or the body field (None: neither given).

    `body` is the decoded JSON document; its `event_time` field is removed so the rest
    reads as an ordinary body.
    """
    given = isinstance(body, dict) and EVENT_TIME_FIELD in body
    if header is not None and given:
        raise ServingError.one(
            422,
            EVENT_TIME_FIELD,
            "the event time is given twice: in the X-Event-Time header and in the body",
            "send it once, in either place",
        )
    if given:
        return parse_event_time(body.pop(EVENT_TIME_FIELD), EVENT_TIME_FIELD, now)
    if header is not None:
        return parse_event_time(header, "X-Event-Time", now)
    return None


def parse_event_time(value: Any, field: str, now: float) -> float:
    """Epoch seconds from a number, a numeric string or an ISO 8601 date-time; HTTP 422
    saying what is wrong otherwise."""
    if isinstance(value, bool) or value is None:
        raise _refused(field, f"expected a timestamp, got {_shown(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _from_text(value.strip(), field)
    else:
        raise _refused(field, f"expected a timestamp, got {_shown(value)}")
    if not math.isfinite(seconds):
        raise _refused(field, "the timestamp is not a finite number")
    if seconds < 0:
        raise _refused(field, f"{_shown(value)} is before 1970-01-01T00:00:00Z")
    if seconds > latest_event_time(now):
        unit = " (it looks like milliseconds: divide by 1000)" if seconds > _MILLISECONDS else ""
        raise ServingError.one(
            422,
            field,
            f"{_shown(value)} lies in the future, after the end of tomorrow (UTC){unit}",
            "send the time the event happened; check the client's clock and time zone",
        )
    return seconds


def latest_event_time(now: float) -> float:
    """The last event time accepted at `now`: the end of the next UTC day."""
    return math.floor(now / DAY_S) * DAY_S + 2 * DAY_S


def _from_text(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _refused(field, f"{text[:60]!r} is neither epoch seconds nor ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        raise _refused(field, f"{text[:60]!r} is out of range") from None


def _refused(field: str, problem: str) -> ServingError:
    return ServingError.one(422, field, problem, _HINT)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
