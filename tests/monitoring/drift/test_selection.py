"""Evidently's default rule: which test a column gets unless one is forced."""

from __future__ import annotations

import pytest

from loopml.monitoring.drift.selection import default_test
from loopml.monitoring.results import ColumnKind


@pytest.mark.parametrize(
    ("kind", "rows", "distinct", "expected"),
    [
        ("numerical", 1000, 6, "ks"),
        ("numerical", 1000, 5, "chisquare"),
        ("numerical", 1000, 3, "chisquare"),
        ("numerical", 1000, 2, "z"),
        ("numerical", 10, 1, "z"),  # a constant column gets a categorical test
        ("categorical", 1000, 50, "chisquare"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("categorical", 5, 1, "z"),
        ("numerical", 1001, 6, "wasserstein"),
        ("numerical", 1001, 5, "jensenshannon"),
        ("numerical", 10**6, 1, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 10**6, 500, "jensenshannon"),
    ],
)
def test_default_rule_follows_evidently(
    kind: ColumnKind, rows: int, distinct: int, expected: str
) -> None:
    assert default_test(kind, rows, distinct).name == expected
