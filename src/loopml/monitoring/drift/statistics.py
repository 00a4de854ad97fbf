"""The drift statistics, as vectorised functions on sorted samples and aligned counts.

Numerical tests take the non-null values of each side already sorted: a column is sorted
once and every statistic reads it through `searchsorted` or one linear merge, so nothing
is re-sorted per test (except that KS on small samples hands its <= 10,000 values to
SciPy). Categorical tests take counts aligned over the union of the levels of both sides
(a level absent from one side counts 0 there).

Each function reproduces the formula its namesake in SciPy uses, so that values agree
with `scipy.stats` and with Evidently (which calls SciPy) to floating-point rounding; the
tests check both. PSI is the textbook Population Stability Index, not Evidently's variant.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Evidently's floor on the reference std, so that a constant reference does not divide by 0.
WASSERSTEIN_MIN_STD = 0.001
PSI_BINS = 10  # textbook PSI: reference deciles
PSI_MIN_SHARE = 1e-4  # an empty bin counts as 0.01 % so that ln(share) stays finite
KS_EXACT_MAX_N = 10_000  # SciPy's `method="auto"`: exact distribution up to this sample size


@dataclass(frozen=True)
class MergedSamples:
    """Two sorted samples merged into one sorted array, with the reference's running count.

    `ref_le[i]` is the number of reference values among `values[: i + 1]`; wherever
    `values[i] < values[i + 1]` it equals the number of reference values <= `values[i]`,
    which is all that the empirical CDFs need (at ties the step width is 0).
    """

    values: FloatArray
    ref_le: IntArray
    n_ref: int
    n_cur: int

    @property
    def distinct(self) -> int:
        """Distinct values over both samples."""
        return int(np.count_nonzero(np.diff(self.values))) + 1 if self.values.size else 0

    def cdf_gaps(self) -> tuple[FloatArray, FloatArray]:
        """|F_ref - F_cur| * n_ref * n_cur at each step, and the step widths.

        In float64, built in place: the products are integers, exact up to 2**53.
        """
        n_ref, total = self.n_ref, self.values.size
        gaps = self.ref_le[:-1].astype(np.float64)
        gaps *= total  # ref_le * n_cur - cur_le * n_ref, with cur_le = (i + 1) - ref_le
        steps = np.arange(1, total, dtype=np.float64)
        steps *= n_ref
        gaps -= steps
        del steps
        np.abs(gaps, out=gaps)
        return gaps, np.diff(self.values)


def merge_sorted(ref: FloatArray, cur: FloatArray) -> MergedSamples:
    """Merge two sorted samples in linear time (a stable sort of two runs is one merge)."""
    both = np.concatenate((ref, cur))
    order = np.argsort(both, kind="stable")
    values = both[order]
    del both
    ref_le = np.cumsum(order < ref.size, dtype=np.int64)
    return MergedSamples(values, ref_le, int(ref.size), int(cur.size))


def count_distinct(sorted_values: FloatArray) -> int:
    """Distinct values of a sorted sample."""
    if sorted_values.size == 0:
        return 0
    return int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1])) + 1


# ---------------------------------------------------------------------------- numerical
def ks_statistic(merged: MergedSamples) -> float:
    """The two-sided Kolmogorov-Smirnov statistic D = max |F_ref - F_cur|."""
    gaps, widths = merged.cdf_gaps()
    ends = gaps[widths > 0]  # inside a run of ties the running count is not yet the CDF
    top = float(ends.max()) if ends.size else 0.0
    return top / (merged.n_ref * merged.n_cur)


def ks_pvalue(ref: FloatArray, cur: FloatArray, merged: MergedSamples | None = None) -> float:
    """Two-sided two-sample KS p-value, as `scipy.stats.ks_2samp(method="auto")`.

    Small samples get SciPy's exact distribution (SciPy is asked directly, its cost is
    negligible at that size); large ones Smirnov's asymptotic distribution of D computed
    here from the merged samples.
    """
    if max(ref.size, cur.size) <= KS_EXACT_MAX_N:
        with warnings.catch_warnings():
            # SciPy falls back to the asymptotic form, with a warning, when exact fails.
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(stats.ks_2samp(ref, cur, method="auto").pvalue)
    d = ks_statistic(merged if merged is not None else merge_sorted(ref, cur))
    m, n = sorted((float(ref.size), float(cur.size)), reverse=True)
    p = float(stats.kstwo.sf(d, np.round(m * n / (m + n))))
    return min(max(p, 0.0), 1.0)


def wasserstein(merged: MergedSamples) -> float:
    """The first Wasserstein distance between the two empirical distributions."""
    gaps, widths = merged.cdf_gaps()
    return float(np.dot(gaps, widths)) / (merged.n_ref * merged.n_cur)


def wasserstein_normed(ref: FloatArray, merged: MergedSamples) -> float:
    """Wasserstein distance divided by the reference's std (ddof=0, floored at 0.001).

    Normalising makes one threshold (0.1: a tenth of a standard deviation) fit columns of
    any scale; the floor is Evidently's, so a constant reference does not divide by zero.
    """
    norm = max(float(np.std(ref)), WASSERSTEIN_MIN_STD)
    return wasserstein(merged) / norm


def value_counts(sorted_values: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct values of a sorted sample and how often each occurs."""
    if sorted_values.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    counts = np.diff(np.r_[starts, sorted_values.size]).astype(np.int64)
    return sorted_values[starts], counts


def align_counts(
    ref_values: FloatArray, ref_counts: IntArray, cur_values: FloatArray, cur_counts: IntArray
) -> tuple[FloatArray, IntArray, IntArray]:
    """Counts of both sides over the sorted union of their distinct values."""
    levels = np.union1d(ref_values, cur_values)
    ref = np.zeros(levels.size, dtype=np.int64)
    cur = np.zeros(levels.size, dtype=np.int64)
    ref[np.searchsorted(levels, ref_values)] = ref_counts
    cur[np.searchsorted(levels, cur_values)] = cur_counts
    return levels, ref, cur


def count_below(sorted_values: FloatArray, edges: FloatArray, *, last_closed: bool) -> IntArray:
    """Counts of a sorted sample in the bins [e0, e1), [e1, e2), … (the last one closed).

    The same bin convention as `numpy.histogram`; values outside [e0, e_last] are not
    counted.
    """
    below = np.searchsorted(sorted_values, edges, side="left").astype(np.int64)
    if last_closed:
        below[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(below)


def sturges_counts(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Both samples binned on Sturges' equal-width bins over their joint range.

    `numpy.histogram_bin_edges(concat, bins="sturges")`; it is how Evidently bins a
    numerical column with more than 20 distinct values for Jensen-Shannon (and PSI).
    """
    lo = float(min(ref[0], cur[0]))
    hi = float(max(ref[-1], cur[-1]))
    width = (hi - lo) / (np.log2(ref.size + cur.size) + 1.0)  # numpy's Sturges bin width
    bins = math.ceil((hi - lo) / width) if width > 0 else 1
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    return (
        edges,
        count_below(ref, edges, last_closed=True),
        count_below(cur, edges, last_closed=True),
    )


# --------------------------------------------------------------------------- categorical
def jensenshannon(ref_counts: IntArray, cur_counts: IntArray) -> float:
    """Jensen-Shannon distance (natural log, so 0 … sqrt(ln 2)) of two count vectors.

    The square root of the JS divergence between the two share vectors, as
    `scipy.spatial.distance.jensenshannon`; zero shares need no smoothing.
    """
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    m = (p + q) / 2.0
    left = float(special.rel_entr(p, m).sum())
    right = float(special.rel_entr(q, m).sum())
    return float(np.sqrt(max((left + right) / 2.0, 0.0)))


def chisquare_pvalue(ref_counts: IntArray, cur_counts: IntArray) -> float:
    """Pearson chi-square goodness-of-fit p-value of the current counts against the reference.

    Expected counts are the reference's scaled to the current size (as Evidently feeds
    `scipy.stats.chisquare`). A level unseen in the reference makes the statistic
    infinite (p = 0); a single level overall leaves nothing to compare (p = 1).
    """
    if ref_counts.size < 2:
        return 1.0
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (cur_counts - expected) ** 2 / expected, np.inf)
    terms = np.where((expected == 0) & (cur_counts == 0), 0.0, terms)
    statistic = float(terms.sum())
    return float(stats.chi2.sf(statistic, ref_counts.size - 1))


def z_pvalue(ref_counts: IntArray, cur_counts: IntArray) -> float:
    """Two-sided Z-test p-value for the difference of two proportions.

    The proportion compared is that of every level except the first one (in sorted
    order), which is exact for binary columns, the case the test is meant for.
    """
    n1 = int(ref_counts.sum())
    n2 = int(cur_counts.sum())
    p1 = 1.0 - ref_counts[0] / n1
    p2 = 1.0 - cur_counts[0] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:  # one level on both sides: identical distributions
        return 1.0 if p1 == p2 else 0.0
    z = (p1 - p2) / math.sqrt(variance)
    return float(2.0 * stats.norm.sf(abs(z)))


# --------------------------------------------------------------------------------- PSI
def psi(ref_counts: IntArray, cur_counts: IntArray, min_share: float = PSI_MIN_SHARE) -> float:
    """Population Stability Index: sum((cur% - ref%) * ln(cur% / ref%)) over the bins.

    Shares of 0 are raised to `min_share` so that the logarithm stays finite. Reading:
    < 0.1 no significant change, 0.1-0.25 moderate shift, >= 0.25 significant shift.
    """
    ref = np.maximum(ref_counts / ref_counts.sum(), min_share)
    cur = np.maximum(cur_counts / cur_counts.sum(), min_share)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def decile_edges(ref: FloatArray, bins: int = PSI_BINS) -> FloatArray:
    """Inner bin edges at the reference's quantiles 1/bins … (bins-1)/bins, without repeats.

    The bins are (-inf, e1], (e1, e2], …, (e_last, inf): they depend on the reference only,
    and a current value beyond the reference's range lands in an end bin.
    """
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def psi_numerical(ref: FloatArray, cur: FloatArray, bins: int = PSI_BINS) -> float:
    """Textbook PSI of two sorted samples on the reference's decile bins."""
    edges = decile_edges(ref, bins)
    return psi(_right_closed_counts(ref, edges), _right_closed_counts(cur, edges))


def _right_closed_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    at_most = np.searchsorted(sorted_values, edges, side="right").astype(np.int64)
    counts: IntArray = np.diff(np.r_[np.int64(0), at_most, np.int64(sorted_values.size)])
    return counts
