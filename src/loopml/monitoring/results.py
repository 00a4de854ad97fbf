"""What a monitor computes: drift per column, performance, latency; plain, JSON-ready data.

Every result says which test ran, its statistic, the threshold and the sample sizes, so a
reader can check a verdict without re-running anything. A column or window that could not be
tested says why in `status` and has `drift=None` — never a silent "no drift".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ColumnKind = Literal["numerical", "categorical"]

# Column statuses: "ok" means the test ran; every other status means it could not.
OK = "ok"
MISSING = "missing"  # the column is absent from the reference or the current window
EMPTY = "empty"  # no non-null values in the current window (or the window has no rows)
ALL_NULL = "all_null"  # every value is null in the current window while the reference has values
NO_REFERENCE = "no_reference"  # no non-null values in the reference
STATUSES = (OK, MISSING, EMPTY, ALL_NULL, NO_REFERENCE)


@dataclass(frozen=True)
class Histogram:
    """Reference-vs-current distribution of one column, as aggregates for plots.

    Numerical: `edges` has len(counts)+1 bin edges. Categorical: `categories` names the
    bars (the most frequent ones; the rest summed into "(other)").
    """

    reference: list[int]
    current: list[int]
    edges: list[float] | None = None
    categories: list[str] | None = None


@dataclass(frozen=True)
class ColumnDrift:
    """The drift verdict of one column."""

    column: str
    kind: ColumnKind | None
    test: str | None  # "wasserstein", "jensenshannon", "ks", "chisquare", "z", "psi"
    statistic: float | None  # a distance (higher = more drift) or a p-value (lower = more)
    threshold: float | None
    drift: bool | None  # None when the test could not run (see `status`)
    status: str = OK
    message: str | None = None
    reference_rows: int = 0  # non-null values used
    current_rows: int = 0
    reference_nulls: int = 0
    current_nulls: int = 0
    distinct: int | None = None  # distinct values in the reference
    # distinct values over reference and current together: what the default test rule reads
    distinct_union: int | None = None
    is_prediction: bool = False
    is_label: bool = False  # the feedback labels against the reference's target
    histogram: Histogram | None = None


@dataclass(frozen=True)
class DriftResult:
    """The verdict on a whole window: per-column drift and the dataset-level share rule."""

    columns: list[ColumnDrift]
    drift_share: float  # dataset drift when drifted / tested columns >= this
    reference_rows: int
    current_rows: int
    dataset_drift: bool | None  # None when no column could be tested
    status: str = OK  # "ok", "empty" (no current rows), "no_reference", "partial"
    message: str | None = None

    @property
    def tested(self) -> list[ColumnDrift]:
        """Feature columns whose test ran (the prediction and the labels are reported, not
        counted)."""
        return [
            c
            for c in self.columns
            if c.drift is not None and not c.is_prediction and not c.is_label
        ]

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drift and not c.is_prediction and not c.is_label]

    @property
    def labels(self) -> ColumnDrift | None:
        """The label-drift verdict of the window, when feedback labels were compared."""
        return next((c for c in self.columns if c.is_label), None)

    @property
    def share(self) -> float | None:
        tested = self.tested
        return len(self.drifted) / len(tested) if tested else None

    def column(self, name: str) -> ColumnDrift:
        for item in self.columns:
            if item.column == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PerformanceResult:
    """Model quality from feedback joined by request id."""

    task: Literal["classification", "regression"] | None
    rows: int  # predictions in the window
    labelled_rows: int  # of which have a label
    metrics: dict[str, float | None] = field(default_factory=dict)
    status: str = OK  # "ok", "no_labels", "empty"
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EstimatedPerformance:
    """Model quality estimated from the window's predictions alone (no labels needed), with
    the realized metrics of the same rows beside it where feedback already came.

    `metrics` maps a metric to `{"value", "lower", "upper"}`: the estimate and the band the
    realized value should fall in at `level` while the reference still describes the data.
    """

    method: str  # "cbpe" (classifiers) or "dle" (regressors)
    model: str | None  # the model version whose predictions were estimated
    rows: int
    level: float
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    realized: dict[str, float | None] = field(default_factory=dict)
    labelled_rows: int = 0
    status: str = OK  # "ok", "empty", or "unavailable" (message says why)
    message: str | None = None

    def value(self, metric: str) -> float | None:
        """The estimate of `metric`, or None when it was not estimated."""
        return (self.metrics.get(metric) or {}).get("value")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LatencyResult:
    """Latency percentiles and error rate of one model version (or all: model=None)."""

    model: str | None
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate}


@dataclass(frozen=True)
class FreshnessResult:
    """How current a feature view's online values were at one check (epoch seconds)."""

    view: str
    checked_at: float
    materialized_at: float | None  # end of the last successful materialization
    watermark: float | None  # newest event time online
    source_newest: float | None  # newest event time in the view's source
    materialized_from: str | None = None  # the source the last run read, e.g. dataset:bikes@3
    source_now: str | None = None  # what the source resolves to now
    last_status: str | None = None  # of the newest materialization run (e.g. failed)

    @property
    def lag_s(self) -> float | None:
        """Since the newest event time online."""
        return None if self.watermark is None else max(0.0, self.checked_at - self.watermark)

    @property
    def age_s(self) -> float | None:
        """Since the last successful materialization ended."""
        done = self.materialized_at
        return None if done is None else max(0.0, self.checked_at - done)

    @property
    def behind_s(self) -> float | None:
        """How much newer the source's data is than the online values (0: up to date).
        Rows dated after the check do not count: materialization never takes them."""
        if self.watermark is None or self.source_newest is None:
            return None
        return max(0.0, min(self.source_newest, self.checked_at) - self.watermark)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "lag_s": self.lag_s,
            "age_s": self.age_s,
            "behind_s": self.behind_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FreshnessResult:
        return cls(**{k: v for k, v in data.items() if k not in ("lag_s", "age_s", "behind_s")})


@dataclass(frozen=True)
class WindowResult:
    """Everything a monitor computed for one window of its source."""

    label: str  # e.g. "2026-11-27 10:00→11:00" or "rows 1→1,000" or "dataset:bikes@3"
    start: float | None  # window bounds (epoch seconds) when the window is by time
    end: float | None
    rows: int
    drift: DriftResult | None
    performance: PerformanceResult | None = None
    latency: list[LatencyResult] = field(default_factory=list)  # all models first, then each
    unseen_rows: int = 0  # rows scored with a category the training data never held (flagged)
    freshness: FreshnessResult | None = None  # feature-view monitors: the online values' age
    estimated: EstimatedPerformance | None = None  # performance estimated without labels

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "unseen_rows": self.unseen_rows,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "performance": None if self.performance is None else self.performance.to_dict(),
            "latency": [item.to_dict() for item in self.latency],
            "freshness": None if self.freshness is None else self.freshness.to_dict(),
            "estimated": None if self.estimated is None else self.estimated.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowResult:
        """The inverse of `to_dict` (a stored summary back to objects)."""
        drift = data.get("drift")
        performance = data.get("performance")
        freshness = data.get("freshness")
        estimated = data.get("estimated")
        return cls(
            label=data["label"],
            start=data.get("start"),
            end=data.get("end"),
            rows=data.get("rows", 0),
            unseen_rows=data.get("unseen_rows", 0),
            drift=None if drift is None else drift_from_dict(drift),
            performance=None if performance is None else PerformanceResult(**performance),
            latency=[
                LatencyResult(**{k: v for k, v in item.items() if k != "error_rate"})
                for item in data.get("latency", [])
            ],
            freshness=None if freshness is None else FreshnessResult.from_dict(freshness),
            estimated=None if estimated is None else EstimatedPerformance(**estimated),
        )


def drift_from_dict(data: dict[str, Any]) -> DriftResult:
    """A stored `DriftResult.to_dict()` back to objects."""
    columns = []
    for item in data["columns"]:
        histogram = item.get("histogram")
        columns.append(
            ColumnDrift(
                **{
                    **item,
                    "histogram": None if histogram is None else Histogram(**histogram),
                }
            )
        )
    return DriftResult(**{**data, "columns": columns})
