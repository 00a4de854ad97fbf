"""One column's drift: read both sides, pick the test, compute it, record the verdict.

The result carries everything needed to check it by hand: the test, its statistic, the
threshold, the non-null sample sizes, the nulls dropped and the distinct counts that drove
the test choice. A side with no usable values gives a status instead of a verdict.
"""

from __future__ import annotations

from typing import Any

from loopml.monitoring.drift.columns import (
    CategoricalCounts,
    ColumnSource,
    NumericalValues,
    align_levels,
    read_categorical,
    read_numerical,
)
from loopml.monitoring.drift.histograms import categorical_histogram, numerical_histogram
from loopml.monitoring.drift.samples import Samples
from loopml.monitoring.drift.selection import default_test
from loopml.monitoring.drift.stat_tests import DriftTest
from loopml.monitoring.results import ALL_NULL, NO_REFERENCE, OK, ColumnDrift, Histogram


def numerical_drift(
    base: dict[str, Any],
    ref_source: ColumnSource,
    cur_source: ColumnSource,
    name: str,
    *,
    test: DriftTest | None,
    threshold: float | None,
    histograms: bool,
) -> ColumnDrift:
    """Drift of a numerical column (values read as float64, sorted once per side)."""
    ref = read_numerical(ref_source, name)
    if ref.rows == 0:
        return untested(base, NO_REFERENCE, ref.nulls, 0, "the reference has no non-null values")
    cur = read_numerical(cur_source, name)
    if cur.rows == 0:
        return untested(base, ALL_NULL, ref.nulls, cur.nulls, _all_null(cur.nulls), ref.rows)
    samples = Samples(ref.values, cur.values)
    chosen = test or default_test("numerical", ref.rows, samples.distinct_union)
    statistic = chosen.on_values(samples)
    histogram = numerical_histogram(ref.values, cur.values) if histograms else None
    return _verdict(
        base,
        chosen,
        statistic,
        threshold,
        ref.rows,
        cur.rows,
        ref.nulls,
        cur.nulls,
        samples.distinct_ref,
        samples.distinct_union,
        histogram,
        _dropped(ref, cur),
    )


def categorical_drift(
    base: dict[str, Any],
    ref_source: ColumnSource,
    cur_source: ColumnSource,
    name: str,
    *,
    test: DriftTest | None,
    threshold: float | None,
    histograms: bool,
) -> ColumnDrift:
    """Drift of a categorical column (counts per level over the union of levels)."""
    ref = read_categorical(ref_source, name)
    if ref.rows == 0:
        return untested(base, NO_REFERENCE, ref.nulls, 0, "the reference has no non-null values")
    cur = read_categorical(cur_source, name)
    if cur.rows == 0:
        return untested(base, ALL_NULL, ref.nulls, cur.nulls, _all_null(cur.nulls), ref.rows)
    levels, ref_counts, cur_counts = align_levels(ref, cur)
    chosen = test or default_test("categorical", ref.rows, len(levels))
    statistic = chosen.score_levels(ref_counts, cur_counts)
    histogram = categorical_histogram(levels, ref_counts, cur_counts) if histograms else None
    return _verdict(
        base,
        chosen,
        statistic,
        threshold,
        ref.rows,
        cur.rows,
        ref.nulls,
        cur.nulls,
        len(ref.counts),
        len(levels),
        histogram,
        _levels_note(ref, cur),
    )


def _verdict(
    base: dict[str, Any],
    test: DriftTest,
    statistic: float,
    threshold: float | None,
    ref_rows: int,
    cur_rows: int,
    ref_nulls: int,
    cur_nulls: int,
    distinct: int,
    distinct_union: int,
    histogram: Histogram | None,
    note: str | None,
) -> ColumnDrift:
    limit = test.default_threshold if threshold is None else threshold
    test.check_threshold(limit, base["column"])
    return ColumnDrift(
        **base,
        test=test.name,
        statistic=statistic,
        threshold=limit,
        drift=test.drifted(statistic, limit),
        status=OK,
        message=note,
        reference_rows=ref_rows,
        current_rows=cur_rows,
        reference_nulls=ref_nulls,
        current_nulls=cur_nulls,
        distinct=distinct,
        distinct_union=distinct_union,
        histogram=histogram,
    )


def untested(
    base: dict[str, Any],
    status: str,
    ref_nulls: int,
    cur_nulls: int,
    message: str,
    ref_rows: int = 0,
) -> ColumnDrift:
    """A column that could not be tested: no verdict, and the status says why."""
    return ColumnDrift(
        **base,
        test=None,
        statistic=None,
        threshold=None,
        drift=None,
        status=status,
        message=message,
        reference_rows=ref_rows,
        reference_nulls=ref_nulls,
        current_nulls=cur_nulls,
    )


def _all_null(nulls: int) -> str:
    return f"all {nulls} values in the current window are null, NaN or infinite"


def _dropped(ref: NumericalValues, cur: NumericalValues) -> str | None:
    notes = []
    for side, values in (("reference", ref), ("current", cur)):
        if values.infinite:
            notes.append(f"{values.infinite} infinite values in the {side} counted as nulls")
        if values.unparsed:
            notes.append(f"{values.unparsed} {side} values are not numbers, counted as nulls")
    return "; ".join(notes) or None


def _levels_note(ref: CategoricalCounts, cur: CategoricalCounts) -> str | None:
    new = [level for level in cur.counts if level not in ref.counts]
    if not new:
        return None
    shown = ", ".join(repr(level) for level in sorted(new)[:5])
    more = f" and {len(new) - 5} more" if len(new) > 5 else ""
    return f"levels absent from the reference: {shown}{more}"
