"""Drift as a heat map: one row per column, one cell per window, coloured by how far the
column's statistic went past (or stayed below) its threshold.

Tests disagree on direction — a distance drifts when it rises above its threshold, a
p-value when it falls below — so every cell is put on one scale first: the *severity*,
statistic / threshold for a distance and threshold / statistic for a p-value. Below 1 is
no drift; the verdict itself always comes from the stored result, never from the colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loopml.monitoring.drift.stat_tests import TESTS
from loopml.monitoring.records import StoredResult
from loopml.monitoring.results import ColumnDrift
from loopml.server.ui.render import number

#: (CSS class, words) for the legend, from no drift at all to far past the threshold.
LEVELS = (
    ("h0", "no drift, under ¼ of the threshold"),
    ("h1", "no drift, ¼ to ½ of the threshold"),
    ("h2", "no drift, ½ of the threshold or closer"),
    ("h3", "drift, up to twice the threshold"),
    ("h4", "drift, 2 to 4 times the threshold"),
    ("h5", "drift, 4 times the threshold or more"),
    ("untested", "not tested (see the cell's title)"),
)


@dataclass(frozen=True)
class Cell:
    level: str  # a class of LEVELS
    text: str  # the statistic, short
    title: str  # the whole verdict in words, for a tooltip and screen readers


@dataclass(frozen=True)
class HeatRow:
    column: str
    role: str  # "feature", "prediction" or "labels"
    cells: list[Cell]


def severity(column: ColumnDrift) -> float | None:
    """How far past its threshold a column is (1 = at it); None when it was not tested."""
    if column.drift is None or column.statistic is None or not column.threshold:
        return None
    stat = column.statistic
    if not math.isfinite(stat):
        return math.inf
    test = TESTS.get(column.test or "")
    if test is not None and test.statistic == "p_value":
        return math.inf if stat <= 0 else column.threshold / stat
    return stat / column.threshold


def level(column: ColumnDrift) -> str:
    """The cell's class: the stored verdict picks the half of the scale, severity the step."""
    found = severity(column)
    if found is None:
        return "untested"
    if column.drift:
        return "h5" if found >= 4 else "h4" if found >= 2 else "h3"
    return "h0" if found < 0.25 else "h1" if found < 0.5 else "h2"


def _title(column: ColumnDrift, result: StoredResult) -> str:
    where = f"{column.column}, window #{result.seq} ({result.window.label})"
    if column.drift is None:
        reason = column.message or column.status
        return f"{where}: not tested — {reason}"
    test = TESTS.get(column.test or "")
    rule = test.rule_text(number(column.threshold)) if test else f"≥ {number(column.threshold)}"
    verdict = "drift" if column.drift else "no drift"
    return f"{where}: {column.test} {number(column.statistic)} (drift when {rule}) — {verdict}"


def _role(column: ColumnDrift) -> str:
    return "labels" if column.is_label else "prediction" if column.is_prediction else "feature"


def heat_rows(results: list[StoredResult]) -> list[HeatRow]:
    """The grid for `results` (oldest first): features in the order first seen, then the
    prediction and the labels; a window without a column gets an untested cell."""
    found: dict[str, dict[int, ColumnDrift]] = {}
    roles: dict[str, str] = {}
    for result in results:
        drift = result.window.drift
        for column in drift.columns if drift is not None else []:
            found.setdefault(column.column, {})[result.seq] = column
            roles.setdefault(column.column, _role(column))
    order = {"feature": 0, "prediction": 1, "labels": 2}
    names = sorted(found, key=lambda n: order[roles[n]])  # stable: first-seen within a role
    rows = []
    for name in names:
        cells = []
        for result in results:
            seen = found[name].get(result.seq)
            if seen is None:
                title = f"{name}, window #{result.seq}: not in this window's result"
                cells.append(Cell("untested", "", title))
            else:
                text = number(seen.statistic) if seen.statistic is not None else "—"
                cells.append(Cell(level(seen), text, _title(seen, result)))
        rows.append(HeatRow(name, roles[name], cells))
    return rows
