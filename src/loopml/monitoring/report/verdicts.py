"""How a report words statuses and verdicts (numbers and escaping come from the HTML kit)."""

from __future__ import annotations

from loopml.htmlkit import MISSING, number
from loopml.monitoring.drift.stat_tests import TESTS
from loopml.monitoring.results import OK, ColumnDrift, DriftResult

STATUS_TEXT = {
    "missing": "column missing",
    "empty": "no values",
    "all_null": "all values null",
    "no_reference": "no reference values",
    "no_labels": "no labels yet",
    "partial": "some columns not tested",
}


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
