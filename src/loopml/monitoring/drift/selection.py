"""Which drift test a column gets unless one is forced: Evidently's default rule.

The default rule is the one Evidently 0.7 applies (`get_stattest` in its
`legacy/calculations/stattests/registry.py`), so that a loopml verdict can be compared one
to one with an Evidently report on the same data. It looks at the reference's non-null
row count and at the number of distinct non-null values over reference and current
together:

| reference rows | column kind | distinct values | test |
|---|---|---|---|
| <= 1000 | numerical | > 5 | `ks` |
| <= 1000 | numerical or categorical | 3 … 5 (any for categorical) | `chisquare` |
| <= 1000 | numerical or categorical | <= 2 | `z` |
| > 1000 | numerical | > 5 | `wasserstein` |
| > 1000 | numerical | <= 5 | `jensenshannon` |
| > 1000 | categorical | any | `jensenshannon` |

A constant column (one value on both sides) therefore gets a categorical test: `z`
(p = 1) or `jensenshannon` (0).
"""

from __future__ import annotations

from loopml.monitoring.drift.stat_tests import TESTS, DriftTest
from loopml.monitoring.results import ColumnKind

SMALL_REFERENCE_ROWS = 1000  # up to this many reference values: hypothesis tests
FEW_DISTINCT = 5  # up to this many distinct values a numerical column is treated as levels
BINARY = 2  # up to this many distinct values: Z-test rather than chi-square


def default_test(kind: ColumnKind, reference_rows: int, distinct: int) -> DriftTest:
    """Evidently's default choice from the reference size and the joint distinct count."""
    few = distinct <= FEW_DISTINCT
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and not few:
            return TESTS["ks"]
        return TESTS["z"] if distinct <= BINARY else TESTS["chisquare"]
    if kind == "numerical" and not few:
        return TESTS["wasserstein"]
    return TESTS["jensenshannon"]
