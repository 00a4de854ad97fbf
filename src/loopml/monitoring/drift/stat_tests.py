"""The drift tests, as data: each one carries its statistic functions and its verdict rule.

A test scores a numerical column from both sides' sorted values (`on_values`) and a
categorical column from counts aligned over the union of levels (`on_levels`). Adding a
test is adding one entry to `TESTS`; nothing else branches on a test's name, and the
conformance suite (`tests/monitoring/drift/test_stat_tests.py`) runs over every entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from loopml.errors import ValidationError
from loopml.monitoring.drift import statistics as st
from loopml.monitoring.drift.samples import STURGES_MIN_DISTINCT, Samples
from loopml.monitoring.results import ColumnKind

StatisticKind = Literal["p_value", "distance"]
ValuesStatistic = Callable[[Samples], float]
LevelsStatistic = Callable[[st.IntArray, st.IntArray], float]


@dataclass(frozen=True)
class DriftTest:
    """A registered drift test: its statistics, what they mean and when they flag drift.

    `column_kinds` are the kinds a user may force the test on; the default rule may also
    give a level test (chi-square, Z, Jensen-Shannon) to a numerical column with few
    distinct values, which `on_values` then scores as levels.
    """

    name: str
    statistic: StatisticKind
    default_threshold: float
    column_kinds: frozenset[ColumnKind]
    description: str
    on_values: ValuesStatistic
    on_levels: LevelsStatistic | None = None  # None: values only (KS, Wasserstein)
    inclusive: bool = True  # p <= t (or distance >= t) counts as drift; False: strict

    def __post_init__(self) -> None:
        if "categorical" in self.column_kinds and self.on_levels is None:
            raise ValueError(f"drift test {self.name!r} applies to categories without on_levels")

    def score_levels(self, ref: st.IntArray, cur: st.IntArray) -> float:
        """The statistic of two count vectors aligned over the same levels."""
        if self.on_levels is None:
            raise ValidationError(f"drift test {self.name!r} does not compare levels")
        return self.on_levels(ref, cur)

    def drifted(self, value: float, threshold: float) -> bool:
        """The verdict, with Evidently's comparison for this test (<= or < for p-values)."""
        if math.isnan(value):
            return True  # a statistic that could not be computed is never "no drift"
        if self.statistic == "p_value":
            return value <= threshold if self.inclusive else value < threshold
        return value >= threshold if self.inclusive else value > threshold

    def rule_text(self, threshold: str) -> str:
        """The drift condition in words, e.g. "p ≤ 0.05" or "≥ 0.1"."""
        if self.statistic == "p_value":
            return f"p {'≤' if self.inclusive else '<'} {threshold}"
        return f"{'≥' if self.inclusive else '>'} {threshold}"

    def check_threshold(self, threshold: float, column: str) -> None:
        """A threshold this test can use: a p-value level in (0, 1), or a distance > 0."""
        if self.statistic == "p_value" and not 0.0 < threshold < 1.0:
            raise ValidationError(
                f"threshold {threshold} for column {column!r} does not fit test {self.name!r}: "
                "it returns a p-value, so the threshold is a significance level between 0 "
                "and 1 (e.g. 0.05)"
            )

    def check_applicable(self, kind: ColumnKind, column: str) -> None:
        """Refuse a forced test on a column kind it cannot compare (e.g. KS on categories)."""
        if kind in self.column_kinds:
            return
        fix = (
            f"declare the column numerical (numerical=[{column!r}])"
            if kind == "categorical"
            else f"declare the column categorical (categorical=[{column!r}])"
        )
        usable = sorted(n for n, t in TESTS.items() if kind in t.column_kinds)
        raise ValidationError(
            f"test {self.name!r} does not apply to the {kind} column {column!r}: "
            f"use one of {', '.join(usable)}, or {fix}"
        )


def as_levels(statistic: LevelsStatistic) -> ValuesStatistic:
    """A level statistic on a numerical column whose every distinct value is a level."""

    def on_values(samples: Samples) -> float:
        _, ref, cur = samples.levels
        return statistic(ref, cur)

    return on_values


def _ks(samples: Samples) -> float:
    large = max(samples.ref.size, samples.cur.size) > st.KS_EXACT_MAX_N
    return st.ks_pvalue(samples.ref, samples.cur, samples.merged if large else None)


def _wasserstein(samples: Samples) -> float:
    return st.wasserstein_normed(samples.ref, samples.merged)


def _psi(samples: Samples) -> float:
    return st.psi_numerical(samples.ref, samples.cur)


def _jensenshannon(samples: Samples) -> float:
    """Sturges bins when the reference has many values (as Evidently), else each value."""
    if samples.distinct_ref > STURGES_MIN_DISTINCT:
        _, ref, cur = st.sturges_counts(samples.ref, samples.cur)
        return st.jensenshannon(ref, cur)
    return as_levels(st.jensenshannon)(samples)


_NUM: frozenset[ColumnKind] = frozenset({"numerical"})
_CAT: frozenset[ColumnKind] = frozenset({"categorical"})
_BOTH: frozenset[ColumnKind] = frozenset({"numerical", "categorical"})

TESTS: dict[str, DriftTest] = {
    t.name: t
    for t in (
        DriftTest("ks", "p_value", 0.05, _NUM, "two-sample Kolmogorov-Smirnov test, p-value", _ks),
        DriftTest(
            "wasserstein",
            "distance",
            0.1,
            _NUM,
            "Wasserstein-1 distance divided by the reference std (floored at 0.001)",
            _wasserstein,
        ),
        DriftTest(
            "jensenshannon",
            "distance",
            0.1,
            _BOTH,
            "Jensen-Shannon distance of the shares (natural log)",
            _jensenshannon,
            st.jensenshannon,
        ),
        DriftTest(
            "psi",
            "distance",
            0.1,
            _BOTH,
            "Population Stability Index on reference deciles (numerical) or levels",
            _psi,
            st.psi,
        ),
        DriftTest(
            "chisquare",
            "p_value",
            0.05,
            _CAT,
            "chi-square goodness of fit of current counts to reference shares, p-value",
            as_levels(st.chisquare_pvalue),
            st.chisquare_pvalue,
            inclusive=False,
        ),
        DriftTest(
            "z",
            "p_value",
            0.05,
            _CAT,
            "two-proportion Z-test for binary columns, p-value",
            as_levels(st.z_pvalue),
            st.z_pvalue,
            inclusive=False,
        ),
    )
}


def get_test(name: str, column: str = "*") -> DriftTest:
    """A registered test by name; unknown names list the available ones."""
    try:
        return TESTS[name]
    except (KeyError, TypeError):
        raise ValidationError(
            f"unknown drift test {name!r} for column {column!r}; "
            f"choose one of {', '.join(sorted(TESTS))}"
        ) from None
