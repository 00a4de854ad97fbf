"""The test registry and Evidently's default rule."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.monitoring.results import ColumnKind
from loopml.monitoring.selection import TESTS, check_applicable, default_test, get_test


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
        check_applicable(TESTS[test], kind, "c")


@pytest.mark.parametrize("kind", ["numerical", "categorical"])
def test_psi_and_jensenshannon_apply_to_both_kinds(kind: ColumnKind) -> None:
    check_applicable(TESTS["psi"], kind, "c")
    check_applicable(TESTS["jensenshannon"], kind, "c")


def test_p_value_thresholds_must_be_levels() -> None:
    with pytest.raises(ValidationError, match="significance level"):
        TESTS["ks"].check_threshold(1.5, "age")
    TESTS["wasserstein"].check_threshold(1.5, "age")
