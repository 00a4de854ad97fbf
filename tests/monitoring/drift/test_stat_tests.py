"""Every registered drift test obeys one contract, and the registry's own rules.

The conformance suite runs over `TESTS`: a new test is done when it passes it. Each test
scores no-drift data under its default threshold and planted drift over it, gives a
statistic of its declared kind, is what `check_drift` reports when forced on a column,
and agrees with SciPy where SciPy has the same statistic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import spatial, stats

from loopml.errors import ValidationError
from loopml.monitoring import check_drift
from loopml.monitoring.drift import statistics as st
from loopml.monitoring.drift.samples import Samples
from loopml.monitoring.drift.stat_tests import TESTS, DriftTest, get_test
from loopml.monitoring.results import ColumnKind

ALL = list(TESTS.values())
NUMERICAL = [t for t in ALL if "numerical" in t.column_kinds]
CATEGORICAL = [t for t in ALL if "categorical" in t.column_kinds]


def normal_grid(n: int, shift: float = 0.0) -> st.FloatArray:
    """n evenly spaced quantiles of N(shift, 1): a sample with no sampling noise, sorted."""
    return np.asarray(stats.norm.ppf((np.arange(n) + 0.5) / n) + shift, dtype=np.float64)


NO_DRIFT_VALUES = (normal_grid(1000), normal_grid(900))
DRIFT_VALUES = (normal_grid(1000), normal_grid(900, shift=1.0))
NO_DRIFT_LEVELS = (np.array([500, 500]), np.array([455, 445]))
DRIFT_LEVELS = (np.array([500, 500]), np.array([270, 630]))


def _scipy_values_js(ref: st.FloatArray, cur: st.FloatArray) -> float:
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p, q = np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
    return float(spatial.distance.jensenshannon(p / p.sum(), q / q.sum()))


def _scipy_levels_js(ref: st.IntArray, cur: st.IntArray) -> float:
    return float(spatial.distance.jensenshannon(ref / ref.sum(), cur / cur.sum()))


def _scipy_chisquare(ref: st.IntArray, cur: st.IntArray) -> float:
    return float(stats.chisquare(cur, ref * (cur.sum() / ref.sum())).pvalue)


SCIPY_ON_VALUES: dict[str, Callable[[st.FloatArray, st.FloatArray], float]] = {
    "ks": lambda ref, cur: float(stats.ks_2samp(ref, cur).pvalue),
    "wasserstein": lambda ref, cur: stats.wasserstein_distance(ref, cur) / float(np.std(ref)),
    "jensenshannon": _scipy_values_js,
}
SCIPY_ON_LEVELS: dict[str, Callable[[st.IntArray, st.IntArray], float]] = {
    "jensenshannon": _scipy_levels_js,
    "chisquare": _scipy_chisquare,
}
# No SciPy counterpart: their textbook formulas are checked in test_statistics.py.
NO_SCIPY = {"psi", "z"}


def test_every_test_states_its_scipy_counterpart_or_that_it_has_none() -> None:
    stated = set(SCIPY_ON_VALUES) | set(SCIPY_ON_LEVELS) | NO_SCIPY
    assert set(TESTS) <= stated, f"say how {sorted(set(TESTS) - stated)} is checked"


def _in_range(test: DriftTest, score: float) -> None:
    assert isinstance(score, float)
    if test.statistic == "p_value":
        assert 0.0 <= score <= 1.0
    else:
        assert score >= 0.0


@pytest.mark.parametrize("test", NUMERICAL, ids=lambda t: t.name)
def test_numerical_contract(test: DriftTest) -> None:
    calm = test.on_values(Samples(*NO_DRIFT_VALUES))
    shifted = test.on_values(Samples(*DRIFT_VALUES))
    _in_range(test, calm)
    _in_range(test, shifted)
    assert not test.drifted(calm, test.default_threshold), f"{test.name} = {calm}"
    assert test.drifted(shifted, test.default_threshold), f"{test.name} = {shifted}"


@pytest.mark.parametrize("test", CATEGORICAL, ids=lambda t: t.name)
def test_categorical_contract(test: DriftTest) -> None:
    calm = test.score_levels(*NO_DRIFT_LEVELS)
    shifted = test.score_levels(*DRIFT_LEVELS)
    _in_range(test, calm)
    _in_range(test, shifted)
    assert not test.drifted(calm, test.default_threshold), f"{test.name} = {calm}"
    assert test.drifted(shifted, test.default_threshold), f"{test.name} = {shifted}"


@pytest.mark.parametrize("test", ALL, ids=lambda t: t.name)
def test_a_statistic_that_cannot_be_computed_is_drift(test: DriftTest) -> None:
    assert test.drifted(float("nan"), test.default_threshold)


def _column(kind: ColumnKind, drift: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    if kind == "numerical":
        ref, cur = DRIFT_VALUES if drift else NO_DRIFT_VALUES
        return pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})
    ref_counts, cur_counts = DRIFT_LEVELS if drift else NO_DRIFT_LEVELS
    ref_levels = ["a"] * int(ref_counts[0]) + ["b"] * int(ref_counts[1])
    cur_levels = ["a"] * int(cur_counts[0]) + ["b"] * int(cur_counts[1])
    return pd.DataFrame({"x": ref_levels}), pd.DataFrame({"x": cur_levels})


@pytest.mark.parametrize(
    ("test", "kind"),
    [(t, k) for t in ALL for k in sorted(t.column_kinds)],
    ids=lambda v: v.name if isinstance(v, DriftTest) else str(v),
)
@pytest.mark.parametrize("drift", [False, True])
def test_check_drift_reports_the_forced_test(
    test: DriftTest, kind: ColumnKind, drift: bool
) -> None:
    ref, cur = _column(kind, drift)
    column = check_drift(ref, cur, tests={"x": test.name}, **{kind: ["x"]}).column("x")
    expected = (
        test.on_values(Samples(*(DRIFT_VALUES if drift else NO_DRIFT_VALUES)))
        if kind == "numerical"
        else test.score_levels(*(DRIFT_LEVELS if drift else NO_DRIFT_LEVELS))
    )
    assert (column.test, column.threshold, column.drift) == (
        test.name,
        test.default_threshold,
        drift,
    )
    assert column.statistic == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", sorted(SCIPY_ON_VALUES))
@pytest.mark.parametrize("drift", [False, True])
def test_values_agree_with_scipy(name: str, drift: bool) -> None:
    ref, cur = DRIFT_VALUES if drift else NO_DRIFT_VALUES
    expected = SCIPY_ON_VALUES[name](ref, cur)
    assert TESTS[name].on_values(Samples(ref, cur)) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("name", sorted(SCIPY_ON_LEVELS))
@pytest.mark.parametrize("drift", [False, True])
def test_levels_agree_with_scipy(name: str, drift: bool) -> None:
    ref, cur = DRIFT_LEVELS if drift else NO_DRIFT_LEVELS
    expected = SCIPY_ON_LEVELS[name](ref, cur)
    assert TESTS[name].score_levels(ref, cur) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_a_values_only_test_refuses_levels() -> None:
    with pytest.raises(ValidationError, match="does not compare levels"):
        TESTS["ks"].score_levels(*NO_DRIFT_LEVELS)


def test_a_test_for_categories_must_score_levels() -> None:
    with pytest.raises(ValueError, match="without on_levels"):
        DriftTest("bad", "distance", 0.1, frozenset({"categorical"}), "", lambda s: 0.0)


def test_get_test_returns_the_registered_entry() -> None:
    assert get_test("ks") is TESTS["ks"]


def test_registry_defaults() -> None:
    assert {n: (t.statistic, t.default_threshold) for n, t in TESTS.items()} == {
        "ks": ("p_value", 0.05),
        "chisquare": ("p_value", 0.05),
        "z": ("p_value", 0.05),
        "wasserstein": ("distance", 0.1),
        "jensenshannon": ("distance", 0.1),
        "psi": ("distance", 0.1),
    }


def test_comparison_operators_are_evidently_s() -> None:
    # KS: p <= threshold; chi-square and Z: p < threshold; distances: >= threshold.
    assert TESTS["ks"].drifted(0.05, 0.05)
    assert not TESTS["chisquare"].drifted(0.05, 0.05)
    assert not TESTS["z"].drifted(0.05, 0.05)
    assert TESTS["z"].drifted(0.0499, 0.05)
    for name in ("wasserstein", "jensenshannon", "psi"):
        assert TESTS[name].drifted(0.1, 0.1)
        assert not TESTS[name].drifted(0.0999, 0.1)
    assert TESTS["wasserstein"].drifted(float("nan"), 0.1)  # never a silent "no drift"


def test_unknown_test_names_list_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown drift test 'kolmogorov'.*chisquare"):
        get_test("kolmogorov", "age")


@pytest.mark.parametrize(
    ("test", "kind", "fix"),
    [
        ("ks", "categorical", "numerical=\\['c'\\]"),
        ("wasserstein", "categorical", "numerical=\\['c'\\]"),
        ("chisquare", "numerical", "categorical=\\['c'\\]"),
        ("z", "numerical", "categorical=\\['c'\\]"),
    ],
)
def test_tests_refuse_column_kinds_they_cannot_compare(
    test: str, kind: ColumnKind, fix: str
) -> None:
    with pytest.raises(ValidationError, match=fix):
        TESTS[test].check_applicable(kind, "c")


@pytest.mark.parametrize("kind", ["numerical", "categorical"])
def test_psi_and_jensenshannon_apply_to_both_kinds(kind: ColumnKind) -> None:
    TESTS["psi"].check_applicable(kind, "c")
    TESTS["jensenshannon"].check_applicable(kind, "c")


def test_p_value_thresholds_must_be_levels() -> None:
    with pytest.raises(ValidationError, match="significance level"):
        TESTS["ks"].check_threshold(1.5, "age")
    TESTS["wasserstein"].check_threshold(1.5, "age")
