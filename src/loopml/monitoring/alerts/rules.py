"""Alert rules, and what each one says about a window result.

A rule is plain data (stored as JSON in a monitor's config, typed on the command line in a
compact form such as `metric_below:r2:0.5`). Evaluating rules is pure: it turns one
`WindowResult` into conditions that are firing, clear, or unknown. Unknown (no labels yet,
drift not computed, no traffic for a model) must neither open nor resolve an alert, so a
quiet window never closes an incident it cannot see.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from loopml.errors import ValidationError
from loopml.monitoring.definition import format_duration, human_duration, parse_duration
from loopml.monitoring.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS
from loopml.monitoring.results import OK, ColumnDrift, LatencyResult, WindowResult

KINDS = (
    "dataset_drift",
    "column_drift",
    "label_drift",
    "metric_below",
    "metric_above",
    "estimated_metric_below",
    "estimated_metric_above",
    "latency_above",
    "error_rate_above",
    "freshness_above",
)
SEVERITIES = ("info", "warning", "critical")
PERCENTILES = ("p50", "p95", "p99")
METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
ESTIMATED_METRICS = ("accuracy", "f1", "roc_auc", "mae", "rmse")  # CBPE and DLE estimate these
THRESHOLD_KINDS = (
    "metric_below",
    "metric_above",
    "estimated_metric_below",
    "estimated_metric_above",
)
# freshness_above measures: since the newest event time online (lag), since the last
# materialization (age), how much newer the source's data is than the online values (behind)
FRESHNESS = ("lag", "age", "behind")
ANY = "*"  # column_drift on every column / latency and errors of every model version
ALL_MODELS = "all"  # the subject of a latency or error-rate rule over all models
MAX_NAME = 250
FIELDS = ("kind", "column", "metric", "percentile", "model", "threshold", "severity", "name")

State = Literal["firing", "clear", "unknown"]


@dataclass(frozen=True)
class AlertRule:
    """One condition to alert on; `name` (default: the compact form) identifies it."""

    kind: str
    column: str | None = None  # column_drift: a column, or "*" for each column
    # metric_below / metric_above and their estimated_ forms; freshness_above: lag|age|behind
    metric: str | None = None
    percentile: str | None = None  # latency_above: p50, p95 or p99
    model: str | None = None  # latency_above / error_rate_above: a version or "*"; None = all
    threshold: float | None = None
    severity: str = "warning"
    name: str = field(default="")

    def __post_init__(self) -> None:
        _validate(self)
        if isinstance(self.threshold, int | float) and not isinstance(self.threshold, bool):
            object.__setattr__(self, "threshold", float(self.threshold))
        if not self.name:
            object.__setattr__(self, "name", self.to_string(with_severity=False))
        if len(self.name) > MAX_NAME:
            raise ValidationError(f"alert rule name is longer than {MAX_NAME} characters")

    # ------------------------------------------------------------------ forms
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertRule:
        """A rule from its stored JSON form; unknown keys are refused."""
        if not isinstance(data, dict):
            raise ValidationError(f"an alert rule must be an object, got {data!r}")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise ValidationError(f"alert rule has unknown keys {unknown}: use {list(FIELDS)}")
        if "kind" not in data:
            raise ValidationError(f"alert rule {data!r} needs a 'kind': one of {list(KINDS)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def parse(cls, text: str) -> AlertRule:
        """The compact CLI form: `kind[:args][@severity]`, e.g. `latency_above:p99:250`."""
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"alert rule must be a non-empty string, got {text!r}")
        body, severity = text.strip(), "warning"
        head, at, tail = body.rpartition("@")
        if at and tail in SEVERITIES:
            body, severity = head, tail
        kind, _, rest = body.partition(":")
        if kind not in KINDS:
            raise ValidationError(f"alert rule {text!r}: unknown kind {kind!r}; {_FORMS}")
        args = rest.split(":", _ARITY[kind] - 1) if rest else []
        try:
            return cls(kind=kind, severity=severity, **_from_args(kind, args))
        except ValidationError as exc:
            raise ValidationError(f"alert rule {text!r}: {exc}; {_FORMS}") from exc

    def to_string(self, *, with_severity: bool = True) -> str:
        """The compact form `parse` reads back."""
        parts = [self.kind]
        if self.kind == "column_drift":
            parts.append(self.column or ANY)
        elif self.kind in THRESHOLD_KINDS:
            parts += [str(self.metric), _exact(self.threshold)]
        elif self.kind == "freshness_above":
            parts += [str(self.metric), _duration(self.threshold)]
        elif self.kind == "latency_above":
            parts += [str(self.percentile), _exact(self.threshold)]
        elif self.kind == "error_rate_above":
            parts.append(_exact(self.threshold))
        if self.model is not None:
            parts.append(self.model)
        text = ":".join(parts)
        return f"{text}@{self.severity}" if with_severity and self.severity != "warning" else text

    def __str__(self) -> str:
        return self.to_string()


@dataclass(frozen=True)
class Condition:
    """What one rule says about one subject of a window."""

    rule: AlertRule
    subject: str  # "dataset", a column, a metric, a model version or "all"
    state: State
    value: float | None
    threshold: float | None
    message: str


def evaluate_rules(rules: list[AlertRule], window: WindowResult) -> list[Condition]:
    """Every rule's conditions on `window`, firing, clear or unknown."""
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationError(f"alert rule names must be unique; repeated: {twice}")
    out: list[Condition] = []
    for rule in rules:
        out += _EVALUATORS[rule.kind](rule, window)
    return out


# ---------------------------------------------------------------------- evaluation
def _dataset_drift(rule: AlertRule, window: WindowResult) -> list[Condition]:
    drift = window.drift
    if drift is None or drift.dataset_drift is None:
        why = "no drift result" if drift is None else (drift.message or drift.status)
        return [_unknown(rule, "dataset", f"dataset drift unknown: {why}")]
    share = drift.share
    text = (
        f"{len(drift.drifted)} of {len(drift.tested)} columns drifted "
        f"(share {_number(share)}, dataset drift at {_number(drift.drift_share)})"
    )
    state: State = "firing" if drift.dataset_drift else "clear"
    return [Condition(rule, "dataset", state, share, drift.drift_share, f"dataset drift: {text}")]


def _column_drift(rule: AlertRule, window: WindowResult) -> list[Condition]:
    drift = window.drift
    column = rule.column or ANY
    if drift is None:
        return [_unknown(rule, column, "column drift unknown: no drift result")]
    if column != ANY:
        try:
            return [_column(rule, drift.column(column))]
        except KeyError:
            return [_unknown(rule, column, f"column {column!r} is not in the drift result")]
    return [_column(rule, item) for item in drift.columns]


def _column(rule: AlertRule, item: ColumnDrift) -> Condition:
    if item.drift is None:
        why = item.message or item.status
        return _unknown(rule, item.column, f"column {item.column} not tested: {why}")
    verdict = "drifted" if item.drift else "did not drift"
    text = (
        f"column {item.column} {verdict} ({item.test} {_number(item.statistic)}, "
        f"threshold {_number(item.threshold)})"
    )
    state: State = "firing" if item.drift else "clear"
    return Condition(rule, item.column, state, item.statistic, item.threshold, text)


def _label_drift(rule: AlertRule, window: WindowResult) -> list[Condition]:
    item = None if window.drift is None else window.drift.labels
    if item is None:
        why = "no drift result" if window.drift is None else "no feedback labels were compared"
        return [_unknown(rule, "labels", f"label drift unknown: {why}")]
    condition = _column(rule, item)
    return [replace(condition, subject="labels", message=f"labels: {condition.message}")]


def _metric(rule: AlertRule, window: WindowResult) -> list[Condition]:
    metric, threshold = str(rule.metric), float(rule.threshold or 0.0)
    result = window.performance
    if result is None or result.status != OK:
        why = "not computed" if result is None else result.message or result.status
        return [_unknown(rule, metric, f"{metric} unknown: {why}")]
    value = result.metrics.get(metric)
    if value is None:
        return [_unknown(rule, metric, f"{metric} unknown: not available for this window")]
    below = rule.kind == "metric_below"
    firing = value < threshold if below else value > threshold
    sign = ("<" if firing else ">=") if below else (">" if firing else "<=")
    text = (
        f"{metric} {_number(value)} {sign} {_number(threshold)} "
        f"over {result.labelled_rows} labelled rows"
    )
    return [Condition(rule, metric, "firing" if firing else "clear", value, threshold, text)]


def _estimated(rule: AlertRule, window: WindowResult) -> list[Condition]:
    """The label-free estimate of a metric against a threshold: fires before labels come."""
    metric, threshold = str(rule.metric), float(rule.threshold or 0.0)
    result = window.estimated
    if result is None or result.status != OK:
        why = "not estimated" if result is None else result.message or result.status
        return [_unknown(rule, metric, f"estimated {metric} unknown: {why}")]
    value = result.value(metric)
    if value is None:
        return [_unknown(rule, metric, f"estimated {metric} unknown: not available")]
    below = rule.kind == "estimated_metric_below"
    firing = value < threshold if below else value > threshold
    sign = ("<" if firing else ">=") if below else (">" if firing else "<=")
    bounds = result.metrics.get(metric) or {}
    text = (
        f"estimated {metric} {_number(value)} {sign} {_number(threshold)} "
        f"({result.level:.0%} band {_number(bounds.get('lower'))}-{_number(bounds.get('upper'))}"
        f", {result.method.upper()} over {result.rows} predictions"
    )
    realized = result.realized.get(metric)
    if realized is not None:
        text += f"; realized {_number(realized)} over {result.labelled_rows} labelled rows"
    text += ")"
    return [Condition(rule, metric, "firing" if firing else "clear", value, threshold, text)]


def _latency(rule: AlertRule, window: WindowResult) -> list[Condition]:
    return [_latency_of(rule, item, subject) for item, subject in _models(rule, window)]


def _latency_of(rule: AlertRule, item: LatencyResult | None, subject: str) -> Condition:
    percentile, threshold = str(rule.percentile), float(rule.threshold or 0.0)
    value = None if item is None else getattr(item, f"{percentile}_ms")
    if value is None:
        return _unknown(rule, subject, f"{percentile} latency of {subject} unknown: no requests")
    firing = value > threshold
    text = (
        f"{percentile} latency of {subject} {_number(value)} ms "
        f"{'>' if firing else '<='} {_number(threshold)} ms"
    )
    return Condition(rule, subject, "firing" if firing else "clear", value, threshold, text)


def _error_rate(rule: AlertRule, window: WindowResult) -> list[Condition]:
    return [_error_rate_of(rule, item, subject) for item, subject in _models(rule, window)]


def _error_rate_of(rule: AlertRule, item: LatencyResult | None, subject: str) -> Condition:
    threshold = float(rule.threshold or 0.0)
    rate = None if item is None else item.error_rate
    if item is None or rate is None:
        return _unknown(rule, subject, f"error rate of {subject} unknown: no requests")
    firing = rate > threshold
    text = (
        f"error rate of {subject} {rate:.2%} {'>' if firing else '<='} {threshold:.2%} "
        f"({item.errors} of {item.requests} requests)"
    )
    return Condition(rule, subject, "firing" if firing else "clear", rate, threshold, text)


def _models(rule: AlertRule, window: WindowResult) -> list[tuple[LatencyResult | None, str]]:
    """The latency results a rule looks at, with their subjects."""
    if rule.model == ANY:
        return [(item, str(item.model)) for item in window.latency if item.model is not None]
    for item in window.latency:
        if item.model == rule.model:
            return [(item, rule.model or ALL_MODELS)]
    return [(None, rule.model or ALL_MODELS)]


def _freshness(rule: AlertRule, window: WindowResult) -> list[Condition]:
    measure, threshold = str(rule.metric), float(rule.threshold or 0.0)
    fresh = window.freshness
    if fresh is None:
        return [_unknown(rule, measure, f"{measure} unknown: freshness not checked in this window")]
    if fresh.materialized_at is None:
        text = f"feature view {fresh.view} has no successful materialization: nothing is online"
        return [Condition(rule, fresh.view, "firing", None, threshold, text)]
    value = {"lag": fresh.lag_s, "age": fresh.age_s, "behind": fresh.behind_s}[measure]
    if value is None:
        why = "the source has no rows" if measure == "behind" else "no event time online"
        return [_unknown(rule, fresh.view, f"{measure} of {fresh.view} unknown: {why}")]
    firing = value > threshold
    what = {
        "lag": "the newest online value is",
        "age": "the last materialization ended",
        "behind": "the source holds data newer than the online values by",
    }[measure]
    text = (
        f"{fresh.view}: {what} {human_duration(value)}"
        + (" ago" if measure != "behind" else "")
        + f" ({'>' if firing else '<='} {_duration(threshold)})"
    )
    return [Condition(rule, fresh.view, "firing" if firing else "clear", value, threshold, text)]


def _unknown(rule: AlertRule, subject: str, message: str) -> Condition:
    return Condition(rule, subject, "unknown", None, rule.threshold, message)


_EVALUATORS = {
    "dataset_drift": _dataset_drift,
    "column_drift": _column_drift,
    "label_drift": _label_drift,
    "metric_below": _metric,
    "metric_above": _metric,
    "estimated_metric_below": _estimated,
    "estimated_metric_above": _estimated,
    "latency_above": _latency,
    "error_rate_above": _error_rate,
    "freshness_above": _freshness,
}


# ---------------------------------------------------------------------- validation
_FORMS = (
    "use dataset_drift, column_drift:COLUMN (or :*), label_drift, metric_below:METRIC:VALUE, "
    "metric_above:METRIC:VALUE, estimated_metric_below:METRIC:VALUE, "
    "estimated_metric_above:METRIC:VALUE, latency_above:p50|p95|p99:MS[:MODEL], "
    "error_rate_above:SHARE[:MODEL], freshness_above:lag|age|behind:DURATION, optionally "
    "ending in @info, @warning or @critical"
)
_ARITY = {  # how many ':'-separated arguments each kind takes at most (the last may hold ':')
    "dataset_drift": 1,
    "column_drift": 1,
    "label_drift": 1,
    "metric_below": 2,
    "metric_above": 2,
    "estimated_metric_below": 2,
    "estimated_metric_above": 2,
    "latency_above": 3,
    "error_rate_above": 2,
    "freshness_above": 2,
}
_USES = {  # the optional fields each kind accepts
    "dataset_drift": set(),
    "column_drift": {"column"},
    "label_drift": set(),
    "metric_below": {"metric", "threshold"},
    "metric_above": {"metric", "threshold"},
    "estimated_metric_below": {"metric", "threshold"},
    "estimated_metric_above": {"metric", "threshold"},
    "latency_above": {"percentile", "threshold", "model"},
    "error_rate_above": {"threshold", "model"},
    "freshness_above": {"metric", "threshold"},
}


def _from_args(kind: str, args: list[str]) -> dict[str, Any]:
    if kind in ("dataset_drift", "label_drift"):
        if args:
            raise ValidationError(f"{kind} takes no arguments")
        return {}
    if kind == "column_drift":
        return {"column": args[0] if args else ANY}
    if kind == "freshness_above":
        if len(args) != 2:
            raise ValidationError(
                "freshness_above needs a measure (lag, age or behind) and a duration, e.g. "
                "freshness_above:lag:2h"
            )
        return {"metric": args[0], "threshold": _seconds(args[1])}
    if kind in THRESHOLD_KINDS:
        if len(args) != 2:
            raise ValidationError(f"{kind} needs a metric and a threshold")
        return {"metric": args[0], "threshold": _float(args[1])}
    if kind == "latency_above":
        if len(args) < 2:
            raise ValidationError("latency_above needs a percentile and a threshold in ms")
        return {
            "percentile": args[0],
            "threshold": _float(args[1]),
            "model": args[2] if len(args) > 2 else None,
        }
    if not args:
        raise ValidationError("error_rate_above needs a threshold share, e.g. 0.01")
    return {"threshold": _float(args[0]), "model": args[1] if len(args) > 1 else None}


def _seconds(text: str) -> float:
    """A duration threshold: a number of seconds (0 allowed) or `90s`, `15m`, `2h`, `1d`."""
    try:
        return float(text)
    except ValueError:
        pass
    if text.strip().rstrip("s").strip() in ("0", "0.0"):
        return 0.0
    return parse_duration(text, "freshness threshold")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"threshold {text!r} is not a number") from None


def _validate(rule: AlertRule) -> None:
    if rule.kind not in KINDS:
        raise ValidationError(f"alert rule kind {rule.kind!r} is unknown: use one of {KINDS}")
    if rule.severity not in SEVERITIES:
        raise ValidationError(f"severity {rule.severity!r} is unknown: use one of {SEVERITIES}")
    if not isinstance(rule.name, str):
        raise ValidationError(f"alert rule name must be a string, got {rule.name!r}")
    optional = ("column", "metric", "percentile", "model", "threshold")
    given = {name for name in optional if getattr(rule, name) is not None}
    extra = sorted(given - _USES[rule.kind])
    if extra:
        raise ValidationError(f"{rule.kind} does not take {extra}")
    for name in ("column", "metric", "percentile", "model"):
        value = getattr(rule, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
    if rule.kind in ("metric_below", "metric_above") and rule.metric not in METRICS:
        raise ValidationError(f"metric {rule.metric!r} is unknown: use one of {METRICS}")
    if rule.kind.startswith("estimated_") and rule.metric not in ESTIMATED_METRICS:
        raise ValidationError(
            f"metric {rule.metric!r} cannot be estimated without labels: use one of "
            f"{ESTIMATED_METRICS}"
        )
    if rule.kind == "freshness_above" and rule.metric not in FRESHNESS:
        raise ValidationError(
            f"freshness measure {rule.metric!r} is unknown: use {', '.join(FRESHNESS)}"
        )
    if rule.kind == "latency_above" and rule.percentile not in PERCENTILES:
        raise ValidationError(f"percentile {rule.percentile!r} is unknown: use {PERCENTILES}")
    if "threshold" in _USES[rule.kind]:
        _check_threshold(rule)


def _check_threshold(rule: AlertRule) -> None:
    value = rule.threshold
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{rule.kind} needs a finite number as threshold, got {value!r}")
    if rule.kind == "latency_above" and value <= 0:
        raise ValidationError(f"latency threshold must be above 0 ms, got {value}")
    if rule.kind == "freshness_above" and value < 0:
        raise ValidationError(f"a freshness threshold is a duration ≥ 0 s, got {value}")
    if rule.kind == "error_rate_above" and not 0 <= value < 1:
        raise ValidationError(
            f"error rate threshold is a share in [0, 1) (0.01 = 1 %), got {value}"
        )


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _duration(value: float | None) -> str:
    """A freshness threshold as written back: `2h`, `400d`, `90s`, or exact seconds."""
    number = float(value or 0.0)
    if number.is_integer() and abs(number) < 2**53:
        text = format_duration(number)
        return text if text[:-1].isdigit() else f"{int(number)}s"
    return repr(number)


def _exact(value: float | None) -> str:
    """A threshold as written back by `to_string`: no precision lost, no needless `.0`."""
    number = float(value or 0.0)
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
