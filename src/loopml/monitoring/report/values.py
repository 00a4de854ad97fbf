"""How numbers, times and verdicts are written in a report; every string leaves here escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from loopml.monitoring.drift.stat_tests import TESTS
from loopml.monitoring.results import OK, ColumnDrift, DriftResult

MISSING = "—"

STATUS_TEXT = {
    "missing": "column missing",
    "empty": "no values",
    "all_null": "all values null",
    "no_reference": "no reference values",
    "no_labels": "no labels yet",
    "partial": "some columns not tested",
}


def esc(value: object) -> str:
    """Any value as HTML-safe text (quotes too, so it is safe inside attributes)."""
    return escape(str(value), quote=True)


def number(value: float | int | None) -> str:
    """An int with thousands separators; a float to four significant digits; None as a dash."""
    if value is None or isinstance(value, bool):
        return MISSING if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def compact(value: float) -> str:
    """A number short enough for an axis label: 1.2M, 35k, 0.8123."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.4g}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share in 0..1 as a percentage."""
    if value is None or not math.isfinite(value):
        return MISSING
    if value and abs(value * 100) < 10**-digits:  # a rare error must not read as 0%
        return f"{value * 100:.2g}%"
    return f"{value * 100:.{digits}f}%"


def when(epoch: float | None) -> str:
    """Epoch seconds as a UTC timestamp."""
    if epoch is None:
        return MISSING
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def shares(counts: Sequence[int]) -> list[float]:
    """Counts as shares of their total, so samples of different sizes compare."""
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def p_value_tests() -> list[str]:
    """The registered tests whose statistic is a p-value (drift below the threshold)."""
    return [name for name, test in TESTS.items() if test.statistic == "p_value"]


def status_text(status: str) -> str:
    """A status code in words, keeping the code itself so it can be searched for."""
    words = STATUS_TEXT.get(status)
    return f"{words} ({status})" if words else status


def column_verdict(column: ColumnDrift) -> tuple[str, str]:
    """The CSS class and the words for a column's verdict; untested is never "no drift"."""
    if column.drift is None:
        status = column.status if column.status != OK else "not tested"
        return "untested", f"not tested: {status_text(status)}"
    return ("drift", "drift") if column.drift else ("nodrift", "no drift")


def dataset_verdict(drift: DriftResult | None) -> tuple[str, str]:
    """The CSS class and headline for the whole window."""
    if drift is None:
        return "untested", "Drift not computed"
    if drift.dataset_drift is None:
        return "untested", "Not tested"
    return ("drift", "Dataset drift") if drift.dataset_drift else ("nodrift", "No dataset drift")


def rule_text(column: ColumnDrift) -> str:
    """The threshold with the test's own comparison, e.g. "p ≤ 0.05" (KS) or "≥ 0.1"."""
    if column.threshold is None:
        return MISSING
    known = TESTS.get(column.test or "")
    if known is None:  # a result stored by a test no longer registered: a distance
        return f"≥ {number(column.threshold)}"
    return known.rule_text(number(column.threshold))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
