"""Group fairness of a model's predictions, computed with Fairlearn.

`evaluate_fairness` compares a model's behaviour across the groups of one or more
sensitive columns (and, with several columns, across their intersection) and returns a
`FairnessReport`: per-group metrics, disparities between groups, and `check()` against
limits for an approval policy.

Classification is binary: labels in {0, 1} (or booleans), or any labels with `pos_label`
naming the positive outcome. For a multiclass model pass `pos_label=<class>` to evaluate
that class one-vs-rest (call once per class to cover them all); accuracy stays the
multiclass accuracy, the rates and disparities are about `pos_label`.

A value that cannot be computed (a group with no positive labels has no true positive
rate) is None, never NaN, and `report.undefined` says why. A check on an undefined or
unknown value fails; it never passes silently.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from loopml.errors import ValidationError

Task = Literal["classification", "regression"]
Label = str | int | float | bool
Value = float | None
GroupMetrics = dict[str, dict[str, Value]]

SMALL_GROUP = 30
"""Groups with fewer rows than this get a warning: their metrics are noisy."""

DISPARITIES: dict[str, tuple[str, ...]] = {
    "classification": (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
    ),
    "regression": ("mae_difference", "mae_ratio"),
}
"""The disparities each task reports. Differences are 0 at parity, ratios 1."""

_Array = npt.NDArray[Any]


@dataclass(frozen=True)
class CheckResult:
    """One limit checked against one column's disparity (`name` is `metric[column]`)."""

    name: str
    value: Value
    limit: float
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return asdict(self)


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics and disparities of one model on one dataset.

    `per_group[column][group][metric]`, `disparities[column][metric]` and `overall[metric]`;
    `column` is a sensitive column or, with several, their `intersection` (`"a & b"`, groups
    `"x & y"`). `undefined` maps the location of every None value (`per_group/sex/F/
    true_positive_rate`) to the reason; `warnings` flags small groups.
    """

    task: Task
    sensitive_columns: tuple[str, ...]
    n_samples: int
    overall: dict[str, Value]
    per_group: dict[str, GroupMetrics]
    disparities: dict[str, dict[str, Value]]
    intersection: str | None = None
    pos_label: Label | None = None
    undefined: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe copy (no NaN; tuples as lists)."""
        data = asdict(self)
        data["sensitive_columns"] = list(self.sensitive_columns)
        data["warnings"] = list(self.warnings)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessReport:
        """The report `to_dict` produced."""
        try:
            report = cls(
                task=data["task"],
                sensitive_columns=tuple(data["sensitive_columns"]),
                n_samples=int(data["n_samples"]),
                overall=dict(data["overall"]),
                per_group={
                    c: {g: dict(m) for g, m in gs.items()} for c, gs in data["per_group"].items()
                },
                disparities={c: dict(d) for c, d in data["disparities"].items()},
                intersection=data.get("intersection"),
                pos_label=data.get("pos_label"),
                undefined=dict(data.get("undefined", {})),
                warnings=tuple(data.get("warnings", ())),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValidationError(f"not a fairness report dict: {exc!r}") from exc
        if report.task not in get_args(Task):
            raise ValidationError(f"not a fairness report dict: unknown task {report.task!r}")
        return report

    def check(self, limits: Mapping[str, float]) -> list[CheckResult]:
        """Each limit against every column (or `metric[column]` for one column).

        Differences must be at most their limit, ratios (`*_ratio`) at least theirs.
        """
        results: list[CheckResult] = []
        for key, limit in limits.items():
            if isinstance(limit, bool) or not isinstance(limit, int | float):
                raise ValidationError(f"limit {key!r} must be a number, got {limit!r}")
            if not math.isfinite(limit):
                raise ValidationError(f"limit {key!r} must be finite, got {limit!r}")
            metric, column = _split_key(key)
            known = DISPARITIES[self.task]
            if metric not in known:
                why = f"{metric!r} is not a {self.task} disparity (known: {', '.join(known)})"
                results.append(CheckResult(key, None, float(limit), False, why))
                continue
            columns = [column] if column is not None else list(self.disparities)
            results.extend(self._check_one(metric, c, float(limit)) for c in columns)
        return results

    def _check_one(self, metric: str, column: str, limit: float) -> CheckResult:
        name = f"{metric}[{column}]"
        if column not in self.disparities:
            listed = ", ".join(self.disparities)
            why = f"column {column!r} is not in the report (columns: {listed})"
            return CheckResult(name, None, limit, False, why)
        value = self.disparities[column].get(metric)
        if value is None:
            why = self.undefined.get(f"disparities/{column}/{metric}", "no value was computed")
            return CheckResult(name, None, limit, False, f"{name} is undefined, so it fails: {why}")
        at_least = metric.endswith("_ratio")
        passed = value >= limit if at_least else value <= limit
        if passed:
            message = f"{name} = {value:.4g} (limit {'≥' if at_least else '≤'} {limit:.4g})"
        elif at_least:
            message = f"{name} = {value:.4g} is below the minimum {limit:.4g}"
        else:
            message = f"{name} = {value:.4g} exceeds the limit {limit:.4g}"
        return CheckResult(name, value, limit, passed, message)


def _split_key(key: str) -> tuple[str, str | None]:
    """`"metric[column]"` → (metric, column); `"metric"` → (metric, None)."""
    if key.endswith("]") and "[" in key:
        metric, _, rest = key.partition("[")
        return metric, rest[:-1]
    return key, None


def evaluate_fairness(
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame | pd.Series,
    *,
    task: Task,
    y_score: Any = None,
    pos_label: Label | None = None,
) -> FairnessReport:
    """Per-group metrics and disparities of `y_pred` against `y_true`, rows aligned by position.

    `y_score` (classification only) adds a per-group ROC AUC.
    """
    if task not in get_args(Task):
        raise ValidationError(f"task must be 'classification' or 'regression', got {task!r}")
    truth, predicted = _vector("y_true", y_true), _vector("y_pred", y_pred)
    groups = _sensitive_frame(sensitive)
    score = None if y_score is None else _vector("y_score", y_score)
    if score is not None and task == "regression":
        raise ValidationError("y_score is for classification; a regression has only y_pred")
    _check_lengths(truth, predicted, groups, score)
    groupings = {column: groups[[column]] for column in groups.columns}
    intersection = " & ".join(groups.columns) if groups.shape[1] > 1 else None
    if intersection is not None:
        groupings[intersection] = groups
    builder: _Builder
    if task == "classification":
        builder = _Classification(truth, predicted, score, pos_label)
    else:
        builder = _Regression(_numeric("y_true", truth), _numeric("y_pred", predicted))
    for column, features in groupings.items():
        builder.add(column, features)
    return FairnessReport(
        task=task,
        sensitive_columns=tuple(groups.columns),
        n_samples=len(truth),
        overall=builder.overall,
        per_group=builder.per_group,
        disparities=builder.disparities,
        intersection=intersection,
        pos_label=builder.pos_label,
        undefined=builder.undefined,
        warnings=tuple(builder.warnings),
    )


# ---------------------------------------------------------------------- input checks
def _vector(name: str, values: Any) -> _Array:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValidationError(f"{name} must be one column, got {values.shape[1]}")
        values = values.iloc[:, 0]
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) == 0:
        raise ValidationError(f"{name} is empty; fairness needs predictions to compare")
    missing = np.flatnonzero(pd.isna(array))
    if len(missing):
        raise ValidationError(
            f"{name} has {len(missing)} missing value(s), the first at row {missing[0]}; "
            "drop or fill those rows first"
        )
    return array


def _numeric(name: str, array: _Array) -> _Array:
    try:
        numbers = array.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be numeric for a regression: {exc}") from exc
    if not np.isfinite(numbers).all():
        raise ValidationError(f"{name} has infinite values; a regression needs finite numbers")
    return numbers


def _sensitive_frame(sensitive: pd.DataFrame | pd.Series) -> pd.DataFrame:
    if isinstance(sensitive, pd.Series):
        frame = sensitive.to_frame(name="sensitive" if sensitive.name is None else sensitive.name)
    elif isinstance(sensitive, pd.DataFrame):
        frame = sensitive.copy()
    else:
        raise ValidationError(
            f"sensitive must be a pandas DataFrame or Series, got {type(sensitive).__name__}"
        )
    frame.columns = pd.Index([str(c) for c in frame.columns])
    if frame.shape[1] == 0:
        raise ValidationError("sensitive has no columns; name at least one sensitive attribute")
    if frame.columns.has_duplicates:
        raise ValidationError(f"sensitive has duplicate column names: {list(frame.columns)}")
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        values = frame[column]
        if values.isna().any():
            raise ValidationError(
                f"sensitive column {column!r} has {int(values.isna().sum())} missing value(s); "
                "fill them with an explicit group such as 'unknown'"
            )
        observed = values.unique()
        if len(observed) < 2:
            only = observed[0] if len(observed) else None
            raise ValidationError(
                f"sensitive column {column!r} has one group only ({only!r}); "
                "fairness compares groups, so it needs at least two"
            )
    return frame


def _check_lengths(
    truth: _Array, predicted: _Array, groups: pd.DataFrame, score: _Array | None
) -> None:
    lengths = {"y_true": len(truth), "y_pred": len(predicted), "sensitive": len(groups)}
    if score is not None:
        lengths["y_score"] = len(score)
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in lengths.items())
        raise ValidationError(f"inputs must have one row each, aligned; got {listed} rows")


def _positive_label(truth: _Array, predicted: _Array, pos_label: Label | None) -> Label:
    labels = pd.unique(pd.Series(np.concatenate([truth, predicted]), dtype=object)).tolist()
    if pos_label is None:
        if set(labels) <= {0, 1}:
            return 1
        if len(labels) == 2:
            raise ValidationError(
                f"labels are {labels[0]!r} and {labels[1]!r}; pass pos_label= to say "
                "which one is the positive outcome"
            )
        raise ValidationError(
            f"{len(labels)} distinct labels: fairness metrics here are binary; pass "
            "pos_label=<class> to evaluate one class against the rest (once per class)"
        )
    if isinstance(pos_label, np.generic):
        pos_label = cast(Label, pos_label.item())
    if not isinstance(pos_label, str | int | float | bool):
        raise ValidationError(f"pos_label must be a str, int, float or bool, got {pos_label!r}")
    if pos_label not in labels:
        raise ValidationError(f"pos_label {pos_label!r} occurs in neither y_true nor y_pred")
    return pos_label


# ---------------------------------------------------------------------- computation
def _number(value: Any) -> Value:
    number = float(value)
    return number if math.isfinite(number) else None


def _group_name(key: Any) -> str:
    return " & ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _roc_auc(y_true: _Array, y_score: _Array) -> float:
    if len(np.unique(y_true)) < 2:
        return math.nan
    return float(roc_auc_score(y_true, y_score))


def _positives(y_true: _Array, y_pred: _Array) -> float:
    return float(np.sum(y_true))


def _negatives(y_true: _Array, y_pred: _Array) -> float:
    return float(len(y_true) - np.sum(y_true))


def _mean_prediction(y_true: _Array, y_pred: _Array) -> float:
    return float(np.mean(y_pred))


_Metric = Callable[[_Array, _Array], float]


class _Builder(ABC):
    """Collects per-group metrics, disparities and the reasons for undefined values."""

    def __init__(self) -> None:
        self.overall: dict[str, Value] = {}
        self.per_group: dict[str, GroupMetrics] = {}
        self.disparities: dict[str, dict[str, Value]] = {}
        self.undefined: dict[str, str] = {}
        self.warnings: list[str] = []
        self.pos_label: Label | None = None

    @abstractmethod
    def add(self, column: str, features: pd.DataFrame) -> None:
        """Evaluate the groups of `features` (one sensitive column, or several intersected)."""

    def _frames(
        self,
        column: str,
        features: pd.DataFrame,
        frames: Sequence[tuple[dict[str, _Metric], _Array, _Array]],
    ) -> tuple[GroupMetrics, list[Any]]:
        """Run one MetricFrame per entry; store per-group and (once) overall values."""
        sizes = features.groupby(list(features.columns), observed=True, sort=True).size()
        rows: GroupMetrics = {_group_name(k): {} for k in sizes.index}
        overall: dict[str, Value] = {}
        made = []
        for metrics, y_true, y_pred in frames:
            frame = MetricFrame(
                metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=features
            )
            # reindex, not .loc: drops empty intersection cells; a bool index is no mask
            by_group = frame.by_group.reindex(sizes.index)
            for key, values in by_group.iterrows():
                rows[_group_name(key)].update({m: _number(values[m]) for m in metrics})
            overall.update({m: _number(frame.overall[m]) for m in metrics})
            made.append(frame)
        for key, size in sizes.items():
            rows[_group_name(key)]["count"] = int(size)
        overall["count"] = int(sizes.sum())
        small = [f"{g} ({n})" for g, m in rows.items() if (n := m["count"] or 0) < SMALL_GROUP]
        if small:
            self.warnings.append(
                f"{column}: groups under {SMALL_GROUP} rows have noisy metrics: {', '.join(small)}"
            )
        self.per_group[column] = rows
        if not self.overall:
            self.overall = overall
        return rows, made

    def _set(self, column: str, metric: str, value: Value, why: str) -> None:
        self.disparities.setdefault(column, {})[metric] = value
        if value is None:
            self.undefined[f"disparities/{column}/{metric}"] = why


class _Classification(_Builder):
    def __init__(
        self, truth: _Array, predicted: _Array, score: _Array | None, pos_label: Label | None
    ) -> None:
        super().__init__()
        self.pos_label = _positive_label(truth, predicted, pos_label)
        self.truth, self.predicted = truth, predicted
        self.score = None if score is None else _numeric("y_score", score)
        self.true01 = pd.Series(truth, dtype=object).eq(self.pos_label).to_numpy(dtype="int64")
        self.pred01 = pd.Series(predicted, dtype=object).eq(self.pos_label).to_numpy(dtype="int64")

    def add(self, column: str, features: pd.DataFrame) -> None:
        rates: dict[str, _Metric] = {
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "positives": _positives,
            "negatives": _negatives,
        }
        frames = [
            ({"accuracy": accuracy_score}, self.truth, self.predicted),
            (rates, self.true01, self.pred01),
        ]
        if self.score is not None:
            frames.append(({"roc_auc": _roc_auc}, self.true01, self.score))
        first = not self.overall
        rows, _ = self._frames(column, features, frames)
        no_pos = [g for g, m in rows.items() if not m["positives"]]
        no_neg = [g for g, m in rows.items() if not m["negatives"]]
        for group, metrics in rows.items():
            self._mark_undefined(f"per_group/{column}/{group}", metrics)
        if first:
            self._mark_undefined("overall", self.overall)
        sensitive = {"sensitive_features": features}
        difference = demographic_parity_difference(self.true01, self.pred01, **sensitive)
        self._set(column, "demographic_parity_difference", _number(difference), "")
        ratio = _number(demographic_parity_ratio(self.true01, self.pred01, **sensitive))
        why = "no group has a positive prediction, so every selection rate is 0 (0/0)"
        self._set(column, "demographic_parity_ratio", ratio, why)
        if no_pos or no_neg:
            why = "; ".join(
                f"{rate} is undefined for {', '.join(groups)} (no {kind} labels)"
                for rate, groups, kind in (
                    ("true_positive_rate", no_pos, "positive"),
                    ("false_positive_rate", no_neg, "negative"),
                )
                if groups
            )
            self._set(column, "equalized_odds_difference", None, why)
        else:
            odds = equalized_odds_difference(self.true01, self.pred01, **sensitive)
            self._set(column, "equalized_odds_difference", _number(odds), "")

    def _mark_undefined(self, where: str, metrics: dict[str, Value]) -> None:
        """Fairlearn reports 0 for a rate with an empty denominator; make it None."""
        reasons = {
            "true_positive_rate": ("positives", "no positive labels"),
            "false_positive_rate": ("negatives", "no negative labels"),
        }
        for metric, (denominator, why) in reasons.items():
            if not metrics[denominator]:
                metrics[metric] = None
                self.undefined[f"{where}/{metric}"] = why
        if "roc_auc" in metrics and metrics["roc_auc"] is None:
            self.undefined[f"{where}/roc_auc"] = "y_true has one class only"
        del metrics["positives"], metrics["negatives"]


class _Regression(_Builder):
    def __init__(self, truth: _Array, predicted: _Array) -> None:
        super().__init__()
        self.truth, self.predicted = truth, predicted

    def add(self, column: str, features: pd.DataFrame) -> None:
        metrics: dict[str, _Metric] = {
            "mae": mean_absolute_error,
            "rmse": root_mean_squared_error,
            "mean_prediction": _mean_prediction,
        }
        _, (frame,) = self._frames(column, features, [(metrics, self.truth, self.predicted)])
        self._set(column, "mae_difference", _number(frame.difference()["mae"]), "")
        why = "every group has MAE 0 (0/0)"
        self._set(column, "mae_ratio", _number(frame.ratio()["mae"]), why)
