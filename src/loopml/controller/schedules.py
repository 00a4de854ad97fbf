"""When a scheduled trigger is due: interval slots on the epoch grid, or cron slots (UTC).

A schedule is a sequence of *slots*. The controller fires for the latest slot at or before
`now` that it has not seen yet, so slots missed while no controller ran collapse into one
catch-up launch instead of a burst of launches.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from croniter import croniter

from loopml.errors import ValidationError

CRON_FIELDS = 5


def check_interval(seconds: float) -> float:
    """A whole number of seconds, at least one: slots must land on readable instants."""
    if not math.isfinite(seconds) or seconds < 1 or seconds != int(seconds):
        raise ValidationError(
            f"a schedule interval must be a whole number of seconds ≥ 1, got {seconds!r}: "
            "write e.g. schedule:30s, schedule:15m or schedule:1d"
        )
    return float(seconds)


def check_cron(expression: str) -> str:
    """A standard five-field cron expression (minute hour day month weekday)."""
    text = " ".join(str(expression).split())
    if len(text.split(" ")) != CRON_FIELDS or not croniter.is_valid(text):
        raise ValidationError(
            f"cron expression {expression!r} is invalid: use five fields, minute hour "
            "day-of-month month day-of-week, e.g. cron:'0 * * * *' (hourly) or "
            "cron:'30 2 * * 1' (Mondays at 02:30 UTC)"
        )
    return text


def latest_interval_slot(every_s: float, now: float) -> float:
    """The latest multiple of `every_s` since the Unix epoch at or before `now`."""
    return math.floor(now / every_s) * every_s


def latest_cron_slot(expression: str, now: float) -> float:
    """The latest instant at or before `now` that the cron expression names (UTC)."""
    start = datetime.fromtimestamp(now + 0.5, UTC)  # croniter's get_prev excludes `start`
    slots = croniter(expression, start)
    slot = float(slots.get_prev(float))
    while slot > now:
        slot = float(slots.get_prev(float))
    return slot


def slot_label(slot: float) -> str:
    """A slot as ISO 8601 UTC text, the cause key of a schedule event."""
    return datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
