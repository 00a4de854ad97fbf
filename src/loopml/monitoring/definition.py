"""A monitor's declaration: what it watches, against what, how often, and what it alerts on."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import ValidationError
from loopml.monitoring.drift.calibration import CALIBRATIONS, check_false_alarm_rate, check_season
from loopml.prediction_log.queries import check_time_basis
from loopml.validation import check_name

_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_ROWS = re.compile(r"^\s*(?P<n>\d[\d_,]*)\s*rows?\s*$")
TASKS = ("classification", "regression")


def parse_duration(text: str | float | int, what: str) -> float:
    """Seconds from `90`, `90s`, `15m`, `1h` or `1d`."""
    if isinstance(text, bool):
        raise ValidationError(f"{what} must be a duration such as 30s, 15m, 1h or 1d")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise ValidationError(
                f"{what} {text!r} is not a duration: write e.g. 30s, 15m, 1h or 1d"
            )
        seconds = float(match.group("n")) * _UNITS[match.group("unit")]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValidationError(f"{what} must be a positive duration, got {text!r}")
    return seconds


def human_duration(seconds: float) -> str:
    """A measured duration as people read it: `45 s`, `12.5 min`, `3.2 h`, `410.1 d`."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class Window:
    """Consecutive windows of the source: `rows` predictions each, or `seconds` of time."""

    rows: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.rows is None) == (self.seconds is None):
            raise ValidationError("a window is either a number of rows or a duration, not both")
        if self.rows is not None and (
            isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 1
        ):
            raise ValidationError(f"window rows must be an integer ≥ 1, got {self.rows!r}")

    @classmethod
    def parse(cls, text: str | int | Window) -> Window:
        """`1000 rows`, `1000`, or a duration (`1h`, `15m`, `1d`)."""
        if isinstance(text, Window):
            return text
        if isinstance(text, int) and not isinstance(text, bool):
            return cls(rows=text)
        if isinstance(text, str):
            rows = _ROWS.match(text)
            if rows:
                return cls(rows=int(rows.group("n").replace("_", "").replace(",", "")))
            if text.strip().isdigit():
                return cls(rows=int(text.strip()))
            return cls(seconds=parse_duration(text, "window"))
        raise ValidationError(f"window {text!r} must be e.g. '1000 rows' or a duration like '1h'")

    def __str__(self) -> str:
        if self.rows is not None:
            return f"{self.rows:,} rows"
        return format_duration(self.seconds or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "seconds": self.seconds}


def format_duration(seconds: float) -> str:
    """3600 → `1h`, 90 → `90s`: durations as users write them."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


SOURCE_FORMS = "deployment:NAME or dataset:NAME (or feature_view:NAME for a feature view)"


@dataclass(frozen=True)
class Source:
    """A deployment's prediction log, the successive versions of a dataset, or a feature
    view's rows (windows of event time) and the freshness of its online values."""

    deployment: str | None = None
    dataset: str | None = None
    feature_view: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.deployment, self.dataset, self.feature_view) if v is not None]
        if len(given) != 1:
            raise ValidationError(
                "a monitor watches exactly one of a deployment, a dataset or a feature view"
            )
        check_name(self.kind.replace("_", " "), self.name)

    @property
    def kind(self) -> str:
        if self.deployment is not None:
            return "deployment"
        return "dataset" if self.dataset is not None else "feature_view"

    @property
    def name(self) -> str:
        return self.deployment or self.dataset or self.feature_view or ""

    @classmethod
    def parse(cls, text: str | Source) -> Source:
        """`deployment:NAME` (or just NAME), `dataset:NAME` or `feature_view:NAME`."""
        if isinstance(text, Source):
            return text
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"monitor source must be {SOURCE_FORMS}")
        kind, _, name = text.strip().partition(":")
        if not name:
            return cls(deployment=kind)
        if kind == "deployment":
            return cls(deployment=name)
        if kind == "dataset":
            return cls(dataset=name.split("@")[0])
        if kind in ("feature_view", "view"):
            return cls(feature_view=name)
        raise ValidationError(f"monitor source {text!r}: write {SOURCE_FORMS}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        found = {"deployment": self.deployment, "dataset": self.dataset}
        if self.feature_view is not None:
            found["feature_view"] = self.feature_view
        return found


@dataclass(frozen=True)
class MonitorConfig:
    """The options a monitor runs with (stored as JSON)."""

    window: Window
    columns: list[str] | None = None  # None: the model's inputs found in the reference
    schedule_s: float | None = None
    label_delay_s: float = 0.0  # a window is evaluated once its labels had this long
    tests: dict[str, str] = field(default_factory=dict)  # column (or "*") → test name
    thresholds: dict[str, float] = field(default_factory=dict)  # column (or "*") → threshold
    drift_share: float = 0.5
    task: str | None = None  # classification | regression; None: inferred
    target: str | None = None  # dataset sources: the label column, for performance
    prediction: str | None = None  # dataset sources: the prediction column
    rules: list[dict[str, Any]] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    # Thresholds from the reference's own windows ("reference") or the tests' ("fixed").
    calibrate: str = "reference"
    false_alarm_rate: float = 0.05
    seasonal: str | None = None  # month | dayofweek | hour: compare with the same period
    resolve_after: int = 2  # an alert resolves after this many clean windows in a row
    min_class_rows: int = 30  # labelled rows each class needs before its metrics count
    # Windows of a deployment's log cut on arrival time, or on the event time clients sent.
    time_basis: str = "arrival"
    # feature-view sources: the reference holds rows before this event time (epoch s), and
    # windows start there
    reference_end: float | None = None
    # Estimate performance from predictions alone (CBPE / DLE), fitted on this labelled
    # dataset the model did not train on (None: the monitor's reference).
    estimate: bool = False
    estimate_reference: str | None = None

    def __post_init__(self) -> None:
        columns = self.columns
        if columns is not None and (
            not columns or not all(isinstance(c, str) and c for c in columns)
        ):
            raise ValidationError("columns must be a non-empty list of column names")
        share = self.drift_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ValidationError(f"drift_share must be in (0, 1], got {share!r}")
        if self.task is not None and self.task not in TASKS:
            raise ValidationError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.calibrate not in CALIBRATIONS:
            raise ValidationError(
                f"calibrate must be 'reference' (thresholds from the reference's own windows) "
                f"or 'fixed' (the tests' thresholds), got {self.calibrate!r}"
            )
        check_false_alarm_rate(self.false_alarm_rate)
        check_season(self.seasonal)
        check_time_basis(self.time_basis)
        if not isinstance(self.estimate, bool):
            raise ValidationError(f"estimate must be true or false, got {self.estimate!r}")
        if self.estimate_reference is not None and not self.estimate:
            raise ValidationError(
                "estimate_reference names the labelled data the estimator is fitted on: "
                "turn estimation on (estimate=True) or leave it out"
            )
        for name in ("resolve_after", "min_class_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be an integer ≥ 1, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "columns": self.columns,
            "schedule_s": self.schedule_s,
            "label_delay_s": self.label_delay_s,
            "tests": dict(self.tests),
            "thresholds": dict(self.thresholds),
            "drift_share": self.drift_share,
            "task": self.task,
            "target": self.target,
            "prediction": self.prediction,
            "rules": list(self.rules),
            "sinks": list(self.sinks),
            "calibrate": self.calibrate,
            "false_alarm_rate": self.false_alarm_rate,
            "seasonal": self.seasonal,
            "resolve_after": self.resolve_after,
            "min_class_rows": self.min_class_rows,
            "time_basis": self.time_basis,
            "reference_end": self.reference_end,
            "estimate": self.estimate,
            "estimate_reference": self.estimate_reference,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorConfig:
        window = data["window"]
        return cls(**{**data, "window": Window(window.get("rows"), window.get("seconds"))})


@dataclass(frozen=True)
class Monitor:
    """A stored monitor and where it is in its source."""

    name: str
    source: Source
    reference: str | None
    config: MonitorConfig
    cursor: float | None
    next_run_at: float | None
    created_by: str
    created_at: float
    updated_at: float

    @property
    def uri(self) -> str:
        return f"monitor:{self.name}"

    @classmethod
    def from_row(cls, row: Any) -> Monitor:
        return cls(
            name=row.name,
            source=Source(**row.source),
            reference=row.reference,
            config=MonitorConfig.from_dict(row.config),
            cursor=row.cursor,
            next_run_at=row.next_run_at,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uri": self.uri,
            "source": str(self.source),
            "reference": self.reference,
            "config": self.config.to_dict(),
            "cursor": self.cursor,
            "next_run_at": self.next_run_at,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
