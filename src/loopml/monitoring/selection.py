"""Which drift test a column gets: the registry of tests and Evidently's default rule.

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

import math
from dataclasses import dataclass
from typing import Literal

from loopml.errors import ValidationError
from loopml.monitoring.results import ColumnKind

StatisticKind = Literal["p_value", "distance"]

SMALL_REFERENCE_ROWS = 1000  # up to this many reference values: hypothesis tests
FEW_DISTINCT = 5  # up to this many distinct values a numerical column is treated as levels
BINARY = 2  # up to this many distinct values: Z-test rather than chi-square


@dataclass(frozen=True)
class StatTest:
    """A registered drift test: what its statistic means and when it flags drift."""

    name: str
    statistic: StatisticKind
    default_threshold: float
    column_kinds: frozenset[ColumnKind]
    description: str
    inclusive: bool = True  # p <= t (or distance >= t) counts as drift; False: strict

    def drifted(self, value: float, threshold: float) -> bool:
        """The verdict, with Evidently's comparison for this test (<= or < for p-values)."""
        if math.isnan(value):
            return True  # a statistic that could not be computed is never "no drift"
        if self.statistic == "p_value":
            return value <= threshold if self.inclusive else value < threshold
        return value >= threshold if self.inclusive else value > threshold

    def check_threshold(self, threshold: float, column: str) -> None:
        """A threshold this test can use: a p-value level in (0, 1), or a distance > 0."""
        if self.statistic == "p_value" and not 0.0 < threshold < 1.0:
            raise ValidationError(
                f"threshold {threshold} for column {column!r} does not fit test {self.name!r}: "
                "it returns a p-value, so the threshold is a significance level between 0 "
                "and 1 (e.g. 0.05)"
            )


_NUM: frozenset[ColumnKind] = frozenset({"numerical"})
_CAT: frozenset[ColumnKind] = frozenset({"categorical"})
_BOTH: frozenset[ColumnKind] = frozenset({"numerical", "categorical"})

TESTS: dict[str, StatTest] = {
    t.name: t
    for t in (
        StatTest("ks", "p_value", 0.05, _NUM, "two-sample Kolmogorov-Smirnov test, p-value"),
        StatTest(
            "wasserstein",
            "distance",
            0.1,
            _NUM,
            "Wasserstein-1 distance divided by the reference std (floored at 0.001)",
        ),
        StatTest(
            "jensenshannon",
            "distance",
            0.1,
            _BOTH,
            "Jensen-Shannon distance of the shares (natural log)",
        ),
        StatTest(
            "psi",
            "distance",
            0.1,
            _BOTH,
            "Population Stability Index on reference deciles (numerical) or levels",
        ),
        StatTest(
            "chisquare",
            "p_value",
            0.05,
            _CAT,
            "chi-square goodness of fit of current counts to reference shares, p-value",
            inclusive=False,
        ),
        StatTest(
            "z",
            "p_value",
            0.05,
            _CAT,
            "two-proportion Z-test for binary columns, p-value",
            inclusive=False,
        ),
    )
}


def get_test(name: str, column: str = "*") -> StatTest:
    """A registered test by name; unknown names list the available ones."""
    try:
        return TESTS[name]
    except (KeyError, TypeError):
        raise ValidationError(
            f"unknown drift test {name!r} for column {column!r}; "
            f"choose one of {', '.join(sorted(TESTS))}"
        ) from None


def check_applicable(test: StatTest, kind: ColumnKind, column: str) -> None:
    """Refuse a test on a column kind it cannot compare (e.g. KS on categories)."""
    if kind in test.column_kinds:
        return
    fix = (
        f"declare the column numerical (numerical=[{column!r}])"
        if kind == "categorical"
        else f"declare the column categorical (categorical=[{column!r}])"
    )
    usable = sorted(n for n, t in TESTS.items() if kind in t.column_kinds)
    raise ValidationError(
        f"test {test.name!r} does not apply to the {kind} column {column!r}: "
        f"use one of {', '.join(usable)}, or {fix}"
    )


def default_test(kind: ColumnKind, reference_rows: int, distinct: int) -> StatTest:
    """Evidently's default choice from the reference size and the joint distinct count."""
    few = distinct <= FEW_DISTINCT
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and not few:
            return TESTS["ks"]
        return TESTS["z"] if distinct <= BINARY else TESTS["chisquare"]
    if kind == "numerical" and not few:
        return TESTS["wasserstein"]
    return TESTS["jensenshannon"]
