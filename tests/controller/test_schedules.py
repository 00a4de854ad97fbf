"""Schedule slots: the epoch grid for intervals, UTC for cron."""

from __future__ import annotations

import pytest

from loopml.controller.schedules import (
    check_cron,
    check_interval,
    latest_cron_slot,
    latest_interval_slot,
    slot_label,
)
from loopml.errors import ValidationError

NOON = 1_767_268_800.0  # 2026-01-01T12:00:00Z


def test_interval_slots_are_multiples_since_the_epoch() -> None:
    assert latest_interval_slot(3600, NOON) == NOON
    assert latest_interval_slot(3600, NOON + 3599) == NOON
    assert latest_interval_slot(86400, NOON) == NOON - 12 * 3600
    assert slot_label(NOON) == "2026-01-01T12:00:00Z"


def test_cron_slots_include_now_and_are_utc() -> None:
    assert latest_cron_slot("0 * * * *", NOON) == NOON
    assert latest_cron_slot("0 * * * *", NOON - 1) == NOON - 3600
    assert latest_cron_slot("30 2 * * *", NOON) == NOON - 9.5 * 3600
    assert latest_cron_slot("* * * * *", NOON + 59.7) == NOON


@pytest.mark.parametrize("value", [0.5, 1.5, float("inf")])
def test_bad_intervals(value: float) -> None:
    with pytest.raises(ValidationError, match="whole number"):
        check_interval(value)


@pytest.mark.parametrize("expression", ["", "* * * *", "0 0 * * * *", "70 * * * *", "daily"])
def test_bad_cron_expressions(expression: str) -> None:
    with pytest.raises(ValidationError, match="five fields"):
        check_cron(expression)
    assert check_cron("  0   *  * * * ") == "0 * * * *"
