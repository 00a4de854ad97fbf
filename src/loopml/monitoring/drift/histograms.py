"""Reference-vs-current histograms of a column, for drift plots.

Only aggregates leave this module (bin counts, top levels), so a report or a stored
monitor result stays small however many rows were compared.
"""

from __future__ import annotations

import numpy as np

from loopml.monitoring.drift.statistics import FloatArray, IntArray, count_below
from loopml.monitoring.results import Histogram

NUMERICAL_BINS = 25
TOP_LEVELS = 20
OTHER = "(other)"


def numerical_histogram(ref: FloatArray, cur: FloatArray, bins: int = NUMERICAL_BINS) -> Histogram:
    """Equal-width bins over the joint range of both sorted samples (either may be empty)."""
    ends = [float(a[i]) for a in (ref, cur) if a.size for i in (0, -1)]
    if not ends:
        return Histogram(reference=[], current=[], edges=[])
    lo, hi = min(ends), max(ends)
    if lo == hi:  # a constant column: one bin around the value, as numpy does
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    return Histogram(
        reference=_counts(ref, edges),
        current=_counts(cur, edges),
        edges=[float(e) for e in edges],
    )


def categorical_histogram(
    levels: list[str], ref: IntArray, cur: IntArray, top: int = TOP_LEVELS
) -> Histogram:
    """The `top` most frequent levels (both sides together), the rest summed as "(other)"."""
    order = np.argsort(-(ref + cur), kind="stable")
    keep = order[:top]
    rest = order[top:]
    names = [levels[i] for i in keep]
    ref_counts = [int(ref[i]) for i in keep]
    cur_counts = [int(cur[i]) for i in keep]
    if rest.size:
        names.append(OTHER)
        ref_counts.append(int(ref[rest].sum()))
        cur_counts.append(int(cur[rest].sum()))
    return Histogram(reference=ref_counts, current=cur_counts, categories=names)


def _counts(sorted_values: FloatArray, edges: FloatArray) -> list[int]:
    if sorted_values.size == 0:
        return [0] * (edges.size - 1)
    return [int(c) for c in count_below(sorted_values, edges, last_closed=True)]
