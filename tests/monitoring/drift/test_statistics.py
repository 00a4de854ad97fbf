"""The drift statistics against SciPy (1e-9 relative) and against the textbook formulas."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import spatial, stats

from loopml.monitoring.drift import statistics as st

FloatArray = st.FloatArray


def samples(seed: int, shape: str, n_ref: int, n_cur: int) -> tuple[FloatArray, FloatArray]:
    """Sorted samples: continuous, with ties, integers, or shifted."""
    rng = np.random.default_rng(seed)
    if shape == "normal":
        ref, cur = rng.normal(0, 1, n_ref), rng.normal(0.1, 1.2, n_cur)
    elif shape == "ties":
        ref, cur = rng.normal(0, 1, n_ref).round(1), rng.normal(0.05, 1, n_cur).round(1)
    elif shape == "integers":
        ref, cur = rng.integers(0, 12, n_ref), rng.integers(1, 12, n_cur)
    else:  # "lognormal" with a shift
        ref, cur = rng.lognormal(0, 0.5, n_ref), rng.lognormal(0.3, 0.6, n_cur)
    return np.sort(ref.astype(np.float64)), np.sort(cur.astype(np.float64))


SHAPES = ["normal", "ties", "integers", "lognormal"]
SIZES = [(50, 80), (700, 700), (3000, 1200), (20_000, 15_000)]  # exact and asymptotic KS


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("n_ref", "n_cur"), SIZES)
def test_ks_matches_scipy(shape: str, n_ref: int, n_cur: int) -> None:
    ref, cur = samples(n_ref + n_cur, shape, n_ref, n_cur)
    expected = stats.ks_2samp(ref, cur)
    merged = st.merge_sorted(ref, cur)
    assert st.ks_statistic(merged) == pytest.approx(expected.statistic, rel=1e-9)
    assert st.ks_pvalue(ref, cur, merged) == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("n_ref", "n_cur"), SIZES)
def test_wasserstein_matches_scipy(shape: str, n_ref: int, n_cur: int) -> None:
    ref, cur = samples(7 * n_ref + n_cur, shape, n_ref, n_cur)
    merged = st.merge_sorted(ref, cur)
    assert st.wasserstein(merged) == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)
    normed = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
    assert st.wasserstein_normed(ref, merged) == pytest.approx(normed, rel=1e-9)


def test_wasserstein_of_a_constant_reference_uses_the_std_floor() -> None:
    ref, cur = np.full(100, 3.0), np.full(50, 3.5)
    merged = st.merge_sorted(ref, cur)
    assert st.wasserstein_normed(ref, merged) == pytest.approx(0.5 / 0.001)
    assert st.wasserstein_normed(ref, st.merge_sorted(ref, ref)) == 0.0


def test_merged_samples_count_distinct_values_of_both_sides() -> None:
    merged = st.merge_sorted(np.array([1.0, 1.0, 2.0]), np.array([2.0, 3.0]))
    assert merged.distinct == 3
    assert merged.values.tolist() == [1.0, 1.0, 2.0, 2.0, 3.0]
    assert st.count_distinct(np.array([1.0, 1.0, 2.0])) == 2
    assert st.count_distinct(np.empty(0)) == 0


def counts(seed: int, levels: int, n_ref: int, n_cur: int) -> tuple[st.IntArray, st.IntArray]:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(levels))
    q = 0.7 * p + 0.3 * rng.dirichlet(np.ones(levels))
    ref = np.bincount(rng.choice(levels, n_ref, p=p), minlength=levels).astype(np.int64)
    cur = np.bincount(rng.choice(levels, n_cur, p=q), minlength=levels).astype(np.int64)
    return ref, cur


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("levels", "n_ref", "n_cur"), [(3, 200, 150), (12, 5000, 7000)])
def test_chisquare_matches_scipy(seed: int, levels: int, n_ref: int, n_cur: int) -> None:
    ref, cur = counts(seed, levels, n_ref, n_cur)
    ref[ref == 0] = 1  # scipy needs positive expected counts
    expected = stats.chisquare(cur, ref * (cur.sum() / ref.sum())).pvalue
    assert st.chisquare_pvalue(ref, cur) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_chisquare_edge_cases() -> None:
    # A level the reference never had: infinitely unlikely under the reference.
    assert st.chisquare_pvalue(np.array([10, 0]), np.array([5, 5])) == 0.0
    # A level only the reference had is just a zero count in the current window.
    assert 0 < st.chisquare_pvalue(np.array([10, 10, 1]), np.array([9, 11, 0])) <= 1
    assert st.chisquare_pvalue(np.array([10]), np.array([4])) == 1.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("levels", [2, 5, 40])
def test_jensenshannon_matches_scipy(seed: int, levels: int) -> None:
    ref, cur = counts(seed, levels, 1000, 800)
    expected = spatial.distance.jensenshannon(ref / ref.sum(), cur / cur.sum())
    assert st.jensenshannon(ref, cur) == pytest.approx(expected, rel=1e-9)


def test_jensenshannon_bounds() -> None:
    assert st.jensenshannon(np.array([5, 5]), np.array([50, 50])) == 0.0
    disjoint = st.jensenshannon(np.array([5, 0]), np.array([0, 5]))
    assert disjoint == pytest.approx(math.sqrt(math.log(2)))


def z_reference(ref: st.IntArray, cur: st.IntArray) -> float:
    """The two-proportion Z-test written out (pooled variance, two-sided)."""
    n1, n2 = ref.sum(), cur.sum()
    p1, p2 = ref[1] / n1, cur[1] / n2
    pooled = (ref[1] + cur[1]) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


@pytest.mark.parametrize(
    ("ref", "cur"), [([60, 40], [55, 45]), ([500, 500], [420, 580]), ([9, 1], [1, 9])]
)
def test_z_test_matches_the_formula(ref: list[int], cur: list[int]) -> None:
    r, c = np.array(ref), np.array(cur)
    assert st.z_pvalue(r, c) == pytest.approx(z_reference(r, c), rel=1e-9, abs=1e-12)
    assert st.z_pvalue(r[::-1].copy(), c[::-1].copy()) == pytest.approx(st.z_pvalue(r, c))


def test_z_test_of_one_level_on_both_sides_is_no_evidence() -> None:
    assert st.z_pvalue(np.array([10]), np.array([7])) == 1.0
    assert st.z_pvalue(np.array([10, 0]), np.array([7, 0])) == 1.0
    assert st.z_pvalue(np.array([10, 0]), np.array([0, 7])) < 1e-3


def textbook_psi(ref: FloatArray, cur: FloatArray) -> float:
    """PSI written out: reference deciles, right-closed bins, empty shares as 0.0001."""
    inner = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    edges = np.r_[-np.inf, inner, np.inf]
    ref_share = np.array(
        [np.mean((ref > lo) & (ref <= hi)) for lo, hi in itertools.pairwise(edges)]
    )
    cur_share = np.array(
        [np.mean((cur > lo) & (cur <= hi)) for lo, hi in itertools.pairwise(edges)]
    )
    ref_share = np.where(ref_share == 0, 1e-4, ref_share)
    cur_share = np.where(cur_share == 0, 1e-4, cur_share)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


@pytest.mark.parametrize("shape", SHAPES)
def test_psi_is_the_textbook_formula(shape: str) -> None:
    ref, cur = samples(11, shape, 2000, 1500)
    assert st.psi_numerical(ref, cur) == pytest.approx(textbook_psi(ref, cur), rel=1e-9)


def test_psi_bins_are_fixed_by_the_reference() -> None:
    ref, _ = samples(3, "normal", 1000, 10)
    assert st.decile_edges(ref).size == 9
    same = np.sort(np.random.default_rng(5).normal(0, 1, 1000))
    far = same + 10.0  # all of it beyond the reference's top decile: one end bin
    assert st.psi_numerical(ref, same) < 0.1
    assert st.psi_numerical(ref, far) > 0.25
    assert st.psi_numerical(np.full(50, 2.0), np.full(40, 2.0)) == 0.0


def test_psi_of_levels() -> None:
    ref, cur = np.array([50, 30, 20]), np.array([20, 30, 50])
    shares_r, shares_c = ref / 100, cur / 100
    expected = np.sum((shares_c - shares_r) * np.log(shares_c / shares_r))
    assert st.psi(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert st.psi(np.array([10, 0]), np.array([5, 5])) == pytest.approx(
        (0.5 - 1.0) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("n_ref", "n_cur"), [(100, 37), (1024, 1024), (5000, 3000)])
def test_sturges_bins_match_numpy(shape: str, n_ref: int, n_cur: int) -> None:
    ref, cur = samples(n_ref, shape, n_ref, n_cur)
    edges, ref_counts, cur_counts = st.sturges_counts(ref, cur)
    expected = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    np.testing.assert_array_equal(edges, expected)
    np.testing.assert_array_equal(ref_counts, np.histogram(ref, expected)[0])
    np.testing.assert_array_equal(cur_counts, np.histogram(cur, expected)[0])


def test_value_counts_and_alignment() -> None:
    values, counts_ = st.value_counts(np.array([1.0, 1.0, 2.0, 5.0, 5.0, 5.0]))
    assert values.tolist() == [1.0, 2.0, 5.0]
    assert counts_.tolist() == [2, 1, 3]
    levels, ref, cur = st.align_counts(values, counts_, np.array([2.0, 7.0]), np.array([4, 1]))
    assert levels.tolist() == [1.0, 2.0, 5.0, 7.0]
    assert ref.tolist() == [2, 1, 3, 0]
    assert cur.tolist() == [0, 4, 0, 1]
