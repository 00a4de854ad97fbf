"""The two sorted samples of a numerical column, with what several tests share computed once."""

from __future__ import annotations

from functools import cached_property

from loopml.monitoring.drift import statistics as st

STURGES_MIN_DISTINCT = 20  # Evidently bins a numerical column for JS above this many values


class Samples:
    """Reference and current non-null values, each sorted; merges and levels made on demand."""

    def __init__(self, ref: st.FloatArray, cur: st.FloatArray) -> None:
        self.ref = ref
        self.cur = cur
        self.distinct_ref = st.count_distinct(ref)
        self.distinct_cur = st.count_distinct(cur)

    @cached_property
    def merged(self) -> st.MergedSamples:
        return st.merge_sorted(self.ref, self.cur)

    @cached_property
    def levels(self) -> tuple[st.FloatArray, st.IntArray, st.IntArray]:
        """Each distinct value as a level: the values and both sides' counts."""
        return st.align_counts(*st.value_counts(self.ref), *st.value_counts(self.cur))

    @cached_property
    def distinct_union(self) -> int:
        """Distinct values over both sides (as levels when few): what the default rule reads."""
        few = max(self.distinct_ref, self.distinct_cur) <= STURGES_MIN_DISTINCT
        return int(self.levels[0].size) if few else self.merged.distinct
