"""`check_drift`: compare a current window with reference data, column by column.

Each column gets one test (Evidently's default rule unless overridden, see
`selection.py`), and the window drifts when at least `drift_share` of the tested columns
do. A column that cannot be tested says why in its status and has `drift=None`; the
window's `dataset_drift` is None when no column could be tested. Columns are read and
tested one at a time, so memory stays at a couple of columns whatever the table's width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Any

from loopml.errors import ValidationError
from loopml.monitoring.drift.column import categorical_drift, numerical_drift, untested
from loopml.monitoring.drift.columns import (
    ColumnSource,
    Source,
    detect_kind,
    open_source,
    readable_as,
)
from loopml.monitoring.drift.stat_tests import DriftTest, get_test
from loopml.monitoring.results import (
    EMPTY,
    MISSING,
    NO_REFERENCE,
    OK,
    ColumnDrift,
    ColumnKind,
    DriftResult,
)

ALL = "*"  # key of `tests` / `thresholds` that applies to every column
# Columns tested at once by default. One: Arrow and DuckDB already decode a column on all
# cores, and on 2 cores a second column in flight saved ~20 % of the time (1M rows x 25
# columns: 1.5 s -> 1.2 s) for ~25 % more peak memory (375 -> 465 MiB).
DEFAULT_WORKERS = 1


@dataclass(frozen=True)
class DriftOptions:
    """What `check_drift` compares and how; validated when built.

    `tests` and `thresholds` map a column name (or "*" for all columns) to a test name
    and to a threshold. Without a test, a column gets Evidently's default one; without a
    threshold, the test's default (0.05 for p-values, 0.1 for distances).
    """

    columns: tuple[str, ...] | None = None
    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    tests: Mapping[str, str] | None = field(default_factory=dict)
    thresholds: Mapping[str, float] | None = field(default_factory=dict)
    drift_share: float = 0.5
    prediction_column: str | None = None
    histograms: bool = True
    workers: int | None = None  # columns tested at once (threads); None: DEFAULT_WORKERS

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "columns", None if self.columns is None else _names("columns", self.columns))
        put(self, "numerical", _names("numerical", self.numerical))
        put(self, "categorical", _names("categorical", self.categorical))
        both = sorted(set(self.numerical) & set(self.categorical))
        if both:
            raise ValidationError(f"columns {both} are declared both numerical and categorical")
        put(self, "tests", _tests(self.tests))
        put(self, "thresholds", _thresholds(self.thresholds))
        share = self.drift_share
        if isinstance(share, bool) or not isinstance(share, Real) or not 0 < share <= 1:
            raise ValidationError(
                f"drift_share must be a number in (0, 1] (the share of tested columns that "
                f"must drift for the dataset to drift, e.g. 0.5), got {share!r}"
            )
        put(self, "drift_share", float(share))
        if self.prediction_column is not None and not _is_name(self.prediction_column):
            raise ValidationError(
                f"prediction_column must be a column name, got {self.prediction_column!r}"
            )
        if not isinstance(self.histograms, bool):
            raise ValidationError(f"histograms must be True or False, got {self.histograms!r}")
        workers = self.workers
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValidationError(f"workers must be a positive integer or None, got {workers!r}")
        for column, name in (self.tests or {}).items():
            test = get_test(name, column)
            kind = self.declared_kind(column)
            if kind is not None:
                test.check_applicable(kind, column)
        for column, threshold in (self.thresholds or {}).items():
            test = self.test_for(column)
            if test is not None:
                test.check_threshold(threshold, column)

    def declared_kind(self, column: str) -> ColumnKind | None:
        if column in self.numerical:
            return "numerical"
        return "categorical" if column in self.categorical else None

    def test_for(self, column: str) -> DriftTest | None:
        """The test forced on a column, if any."""
        tests = self.tests or {}
        name = tests.get(column, tests.get(ALL))
        return None if name is None else get_test(name, column)

    def threshold_for(self, column: str) -> float | None:
        thresholds = self.thresholds or {}
        return thresholds.get(column, thresholds.get(ALL))


def check_drift(
    reference: Source,
    current: Source,
    *,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float | None = None,
    prediction_column: str | None = None,
    histograms: bool | None = None,
    options: DriftOptions | None = None,
) -> DriftResult:
    """Test every column of `current` against `reference` and apply the drift-share rule.

    `reference` and `current` are Parquet/CSV paths, pyarrow Tables, pandas DataFrames or
    DuckDB relations. `columns` defaults to every numerical, text and boolean column of
    the reference; `numerical` / `categorical` override the detected kind; `drift_share`
    defaults to 0.5. A prepared `options` gives the defaults and every keyword argument
    passed explicitly (not None) replaces its field.
    """
    given: dict[str, Any] = {
        "columns": columns,
        "numerical": numerical,
        "categorical": categorical,
        "tests": tests,
        "thresholds": thresholds,
        "drift_share": drift_share,
        "prediction_column": prediction_column,
        "histograms": histograms,
    }
    explicit = {k: v for k, v in given.items() if v is not None}
    options = replace(options, **explicit) if options is not None else DriftOptions(**explicit)
    ref = open_source(reference, "reference")
    cur = open_source(current, "current")
    return compare_sources(ref, cur, options)


@dataclass(frozen=True)
class _Column:
    name: str
    kind: ColumnKind | None
    test: DriftTest | None
    threshold: float | None
    missing_from: str | None  # "reference", "current window" or "reference and current window"
    is_prediction: bool


def compare_sources(ref: ColumnSource, cur: ColumnSource, options: DriftOptions) -> DriftResult:
    """`check_drift` on opened sources."""
    plan, skipped = _plan(ref, cur, options)
    ref_rows = ref.row_count()
    cur_rows = cur.row_count()

    def run(column: _Column) -> ColumnDrift:
        return _check_column(column, ref, cur, cur_rows, options.histograms)

    workers = min(options.workers or DEFAULT_WORKERS, len(plan))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loopml-drift") as pool:
            results = list(pool.map(run, plan))
    else:
        results = [run(column) for column in plan]
    return _summarise(results, skipped, options.drift_share, ref_rows, cur_rows)


def _check_column(
    column: _Column, ref: ColumnSource, cur: ColumnSource, cur_rows: int, histograms: bool
) -> ColumnDrift:
    base: dict[str, Any] = {
        "column": column.name,
        "kind": column.kind,
        "is_prediction": column.is_prediction,
    }
    if column.missing_from is not None or column.kind is None:
        return untested(base, MISSING, 0, 0, f"the column is absent from the {column.missing_from}")
    if cur_rows == 0:
        return untested(base, EMPTY, 0, 0, "the current window has no rows")
    compare = numerical_drift if column.kind == "numerical" else categorical_drift
    return compare(
        base,
        ref,
        cur,
        column.name,
        test=column.test,
        threshold=column.threshold,
        histograms=histograms,
    )


def _plan(
    ref: ColumnSource, cur: ColumnSource, options: DriftOptions
) -> tuple[list[_Column], list[str]]:
    ref_names, cur_names = set(ref.names), set(cur.names)
    requested = options.columns is not None
    names = list(options.columns) if options.columns is not None else []
    skipped: list[str] = []
    if options.columns is None:
        for name in ref.names:
            if options.declared_kind(name) is not None or detect_kind(ref.arrow_type(name)):
                names.append(name)
            else:
                skipped.append(f"{name} ({ref.arrow_type(name)})")
        names += [n for n in (*options.numerical, *options.categorical) if n not in names]
    if options.prediction_column is not None and options.prediction_column not in names:
        names.append(options.prediction_column)
    if not names:
        raise ValidationError(
            "there is no column to check: the reference has no numerical, text or boolean "
            f"column (unsupported: {', '.join(skipped) or 'none'}); name columns and "
            "declare their kind with numerical=[...] or categorical=[...]"
        )
    known = ref_names | cur_names | set(names)
    keys = (*(options.tests or {}), *(options.thresholds or {}))
    unknown = sorted(k for k in keys if k != ALL and k not in known)
    if unknown:
        raise ValidationError(
            f"tests/thresholds name columns {unknown} that neither the reference nor the "
            f"current data has; checked columns: {names}"
        )
    plan = []
    for name in names:
        where = [
            side
            for side, names_ in (("reference", ref_names), ("current window", cur_names))
            if name not in names_
        ]
        kind = options.declared_kind(name)
        source = ref if name in ref_names else cur
        present = len(where) < 2
        if kind is None and present:
            kind = detect_kind(source.arrow_type(name))
            if kind is None and (requested or name == options.prediction_column):
                raise ValidationError(
                    f"column {name!r} has type {source.arrow_type(name)}, which drift tests "
                    f"cannot compare: declare it numerical=[{name!r}] or "
                    f"categorical=[{name!r}], or leave it out of columns"
                )
        elif kind is not None and present and not readable_as(source.arrow_type(name), kind):
            raise ValidationError(
                f"column {name!r} has type {source.arrow_type(name)}, which cannot be read as "
                f"{kind}; cast it in the source or leave it out of columns"
            )
        test = options.test_for(name)
        threshold = options.threshold_for(name)
        if kind is not None and test is not None:
            test.check_applicable(kind, name)
        plan.append(
            _Column(
                name,
                kind,
                test,
                threshold,
                " and ".join(where) or None,
                name == options.prediction_column,
            )
        )
    return plan, skipped


def _summarise(
    results: list[ColumnDrift], skipped: list[str], drift_share: float, ref_rows: int, cur_rows: int
) -> DriftResult:
    # The prediction column is reported beside the features, not counted in the share.
    tested = [c for c in results if c.drift is not None and not c.is_prediction]
    drifted = [c for c in tested if c.drift]
    dataset_drift = len(drifted) / len(tested) >= drift_share if tested else None
    untested = [c for c in results if c.drift is None]
    notes = []
    if cur_rows == 0:
        status = EMPTY
        notes.append("the current window has no rows")
    elif ref_rows == 0 or (
        untested and all(c.status == NO_REFERENCE for c in untested) and not tested
    ):
        status = NO_REFERENCE
        notes.append("the reference has no values to compare with")
    else:
        status = "partial" if untested else OK
    if untested and cur_rows:
        notes.append("not tested: " + ", ".join(f"{c.column} ({c.status})" for c in untested))
    if skipped:
        notes.append("not checked (unsupported type): " + ", ".join(skipped))
    if tested:
        notes.append(
            f"{len(drifted)} of {len(tested)} tested columns drifted "
            f"(dataset drift at a share >= {drift_share:g})"
        )
    return DriftResult(
        columns=results,
        drift_share=drift_share,
        reference_rows=ref_rows,
        current_rows=cur_rows,
        dataset_drift=dataset_drift,
        status=status,
        message="; ".join(notes) or None,
    )


# ------------------------------------------------------------------------- validation
def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _names(what: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence | set | frozenset):
        raise ValidationError(f"{what} must be a list of column names, got {values!r}")
    names = tuple(values)
    bad = [v for v in names if not _is_name(v)]
    if bad:
        raise ValidationError(f"{what} must hold non-empty column names, got {bad!r}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(f"{what} lists {dupes} more than once")
    return names


def _tests(tests: Any) -> dict[str, str]:
    if tests is None:
        return {}
    if not isinstance(tests, Mapping):
        raise ValidationError(f"tests must map column names (or '*') to test names, got {tests!r}")
    for column, name in tests.items():
        if not _is_name(column):
            raise ValidationError(f"tests keys must be column names or '*', got {column!r}")
        get_test(name, column)
    return dict(tests)


def _thresholds(thresholds: Any) -> dict[str, float]:
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        raise ValidationError(
            f"thresholds must map column names (or '*') to numbers, got {thresholds!r}"
        )
    out = {}
    for column, value in thresholds.items():
        if not _is_name(column):
            raise ValidationError(f"thresholds keys must be column names or '*', got {column!r}")
        ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value <= 0:
            raise ValidationError(
                f"threshold for column {column!r} must be a finite number > 0 (a p-value "
                f"level such as 0.05, or a distance such as 0.1), got {value!r}"
            )
        out[column] = float(value)
    return out
