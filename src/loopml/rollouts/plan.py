"""`RolloutPlan`: the declared shape of a progressive rollout — its steps and its SLOs.

Each step sends a percentage of the deployment's traffic to the candidate and is held for
at least `hold_s` seconds and `min_requests` candidate requests; then the step's window is
analysed against the SLOs (see `rollout_analysis`). `(100,)` is blue-green: one switch, one
analysis, then promotion.

A step that cannot be judged yet — too few requests, too few labelled predictions on either
side, too few rows of a class — waits; it never passes on what it could not measure. What
happens when it still cannot be judged `decide_within_s` seconds after it went live is the
plan's `on_undecided`: `hold` (keep waiting), `rollback`, or `ask` (an approver decides
whether the candidate is promoted). `timeout_s` is the older, narrower form: a step that
has held that long without `min_requests` rolls back.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

from loopml.errors import ValidationError

LOWER_IS_BETTER = ("rmse", "mae", "log_loss")
HIGHER_IS_BETTER = ("accuracy", "f1", "r2", "roc_auc")
METRICS = LOWER_IS_BETTER + HIGHER_IS_BETTER
HOLD, ROLLBACK, ASK = "hold", "rollback", "ask"
POINT, SEQUENTIAL = "point", "sequential"
QUALITY_TESTS = (POINT, SEQUENTIAL)
ON_UNDECIDED = (HOLD, ROLLBACK, ASK)
LABELS, ESTIMATE, LABELS_OR_ESTIMATE = "labels", "estimate", "labels_or_estimate"
JUDGE_BY = (LABELS, ESTIMATE, LABELS_OR_ESTIMATE)
ESTIMABLE_METRICS = ("rmse", "mae", "accuracy", "f1", "roc_auc")


@dataclass(frozen=True)
class RolloutPlan:
    """Canary steps (percent of traffic to the candidate) and the SLOs each step must meet.

    SLOs (None turns one off):
    - `max_error_rate`: the candidate's failed requests (HTTP status ≥ 400) over its
      requests in the step window, at most this fraction.
    - `max_p99_ms`: the 99th percentile latency of the candidate's answered requests.
    - `max_accuracy_drop`: the candidate's `metric` against the stable version's over the
      same window. For error metrics (rmse, mae, log_loss) the candidate may be at most this
      fraction worse (0.05: rmse at most 5 % above the stable's); for scores (accuracy, f1,
      r2, roc_auc) at most this much lower, in the metric's units (0.05: accuracy at most
      5 points lower). Both sides are measured on the same window of requests. The step
      cannot be judged — it waits — while either side has fewer than `min_labelled`
      labelled predictions, or, for classification, fewer than `min_per_class` labelled
      predictions of a class that occurs in the window (or only one class).

    `quality_test` says how the quality SLO decides. `point` compares the two values once
    both sides have `min_labelled` labels. `sequential` (for rmse, mae or accuracy) waits for
    evidence: it promotes when the candidate is shown within the drop, rolls back when it is
    shown worse than the stable, with at most `false_promotion_rate` and
    `false_rollback_rate` of wrong decisions however often the step is checked (see
    `loopml.rollouts.sequential`); `min_labelled` is still the least it looks at.

    Undecided steps: `on_undecided` (`hold`, `rollback` or `ask`) applies once a step has
    been live `decide_within_s` seconds without being judged.

    Judged by: `judge_by` says what the quality SLO reads. `labels` (the default): feedback
    only; a step waits for it. `labels_or_estimate`: while either side has too few labelled
    predictions for the test (`min_labelled`, `min_per_class`, the sequential test's floor),
    the step is judged on the estimated metric of both sides over the step's window — CBPE
    for classifiers, DLE for regressors, fitted on labelled reference data — with their
    bands at the plan's error rates and `max_accuracy_drop` as the margin; once labels are
    enough they alone judge. `estimate`: the estimate alone, labels never judge. The reference
    is `estimate_reference` (a dataset version; `estimate_target` its label column), or else
    the candidate's newest stored evaluation (its dataset and target); the rollout is refused
    at start when there is neither. See `loopml.rollouts.estimated_quality`.

    Replay: with `require_replay`, the rollout starts only when the candidate's newest
    replay against the deployment's stable version, stored within `replay_max_age_s`,
    passed ("no worse than stable on last week's traffic"; see `replay.py`).
    """

    steps: tuple[float, ...] = (10.0, 50.0, 100.0)
    hold_s: float = 300.0
    min_requests: int = 100
    max_error_rate: float | None = 0.01
    max_p99_ms: float | None = None
    max_accuracy_drop: float | None = 0.05
    metric: str | None = None  # None: rmse for regression, accuracy for classification
    min_labelled: int = 30
    timeout_s: float | None = None
    min_per_class: int = 10
    on_undecided: str = HOLD
    decide_within_s: float | None = None
    require_replay: bool = False
    replay_max_age_s: float = 7 * 86_400.0
    quality_test: str = POINT
    false_promotion_rate: float = 0.05
    false_rollback_rate: float = 0.05
    judge_by: str = LABELS
    estimate_reference: str | None = None
    estimate_target: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", _steps(self.steps))
        object.__setattr__(self, "hold_s", _number("hold_s", self.hold_s, minimum=0.0))
        object.__setattr__(self, "min_requests", _count("min_requests", self.min_requests))
        object.__setattr__(self, "min_labelled", _count("min_labelled", self.min_labelled, 1))
        for name in ("max_error_rate", "max_accuracy_drop"):
            limit = getattr(self, name)
            if limit is not None:
                object.__setattr__(self, name, _number(name, limit, minimum=0.0))
        if self.max_error_rate is not None and self.max_error_rate > 1:
            raise ValidationError(
                f"max_error_rate is a fraction of requests between 0 and 1 (0.01 = 1 %), "
                f"got {self.max_error_rate:g}"
            )
        if self.max_p99_ms is not None:
            object.__setattr__(
                self, "max_p99_ms", _number("max_p99_ms", self.max_p99_ms, minimum=0.0, open=True)
            )
        if self.metric is not None and self.metric not in METRICS:
            raise ValidationError(
                f"metric must be one of {', '.join(METRICS)}, got {self.metric!r} "
                "(or leave it unset: rmse for regression, accuracy for classification)"
            )
        if self.timeout_s is not None:
            timeout = _number("timeout_s", self.timeout_s, minimum=0.0, open=True)
            if timeout < self.hold_s:
                raise ValidationError(
                    f"timeout_s ({timeout:g} s) must be at least hold_s ({self.hold_s:g} s): "
                    "a step cannot time out before it has held"
                )
            object.__setattr__(self, "timeout_s", timeout)
        object.__setattr__(self, "min_per_class", _count("min_per_class", self.min_per_class, 1))
        self._check_undecided()
        if not isinstance(self.require_replay, bool):
            raise ValidationError(
                f"require_replay must be true or false, got {self.require_replay!r}"
            )
        object.__setattr__(
            self,
            "replay_max_age_s",
            _number("replay_max_age_s", self.replay_max_age_s, minimum=0.0, open=True),
        )
        self._check_quality_test()
        self._check_judge_by()

    def _check_judge_by(self) -> None:
        if self.judge_by not in JUDGE_BY:
            raise ValidationError(
                f"judge_by must be 'labels' (feedback only), 'labels_or_estimate' (the "
                f"estimate judges while labels are too few) or 'estimate' (the estimate "
                f"alone), got {self.judge_by!r}"
            )
        for name in ("estimate_reference", "estimate_target"):
            given = getattr(self, name)
            if given is None:
                continue
            if not isinstance(given, str) or not given.strip():
                raise ValidationError(
                    f"{name} must be text such as "
                    + ("'dataset:bikes-holdout@2'" if name == "estimate_reference" else "'cnt'")
                    + f", got {given!r}"
                )
            if self.judge_by == LABELS:
                raise ValidationError(
                    f"{name} names the labelled data the estimate is fitted on, and this plan "
                    "judges by labels only: set judge_by to 'labels_or_estimate' or "
                    f"'estimate', or leave {name} out"
                )
            object.__setattr__(self, name, given.strip())
        if self.estimate_target is not None and self.estimate_reference is None:
            raise ValidationError(
                "estimate_target names a column of estimate_reference: set estimate_reference "
                "too (without both, the candidate's newest stored evaluation is used)"
            )
        if self.judge_by == LABELS:
            return
        if self.max_accuracy_drop is None:
            raise ValidationError(
                f"judge_by={self.judge_by!r} judges the quality SLO, which this plan turns off "
                "(max_accuracy_drop is None): set max_accuracy_drop (the margin, e.g. 0.05) or "
                "judge_by='labels'"
            )
        if self.metric is not None and self.metric not in ESTIMABLE_METRICS:
            raise ValidationError(
                f"{self.metric!r} cannot be estimated without labels: with judge_by="
                f"{self.judge_by!r} use metric {', '.join(ESTIMABLE_METRICS)} (rmse and mae "
                "for regressors, the others for classifiers) or leave it unset"
            )

    @property
    def judges_by_estimate(self) -> bool:
        """Whether the estimate may judge a step (so a reference must be found at start)."""
        return self.judge_by != LABELS

    def _check_quality_test(self) -> None:
        if self.quality_test not in QUALITY_TESTS:
            raise ValidationError(
                f"quality_test must be 'point' (compare the two values) or 'sequential' (wait "
                f"for evidence, with stated error rates), got {self.quality_test!r}"
            )
        for name in ("false_promotion_rate", "false_rollback_rate"):
            rate = getattr(self, name)
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < 0.5:
                raise ValidationError(f"{name} must be a probability in (0, 0.5), got {rate!r}")
            object.__setattr__(self, name, float(rate))
        if self.quality_test == SEQUENTIAL and self.metric in ("f1", "r2", "roc_auc", "log_loss"):
            raise ValidationError(
                f"quality_test='sequential' judges a mean over predictions: use metric rmse, "
                f"mae or accuracy (or leave it unset), not {self.metric!r}"
            )

    def _check_undecided(self) -> None:
        if self.on_undecided not in ON_UNDECIDED:
            raise ValidationError(
                f"on_undecided must be one of {', '.join(ON_UNDECIDED)}, got "
                f"{self.on_undecided!r}: what happens to a step that cannot be judged in time"
            )
        if self.decide_within_s is None:
            if self.on_undecided != HOLD:
                raise ValidationError(
                    f"on_undecided={self.on_undecided!r} needs a deadline: set decide_within_s "
                    "(seconds a step may stay undecided, e.g. 3600)"
                )
            return
        deadline = _number("decide_within_s", self.decide_within_s, minimum=0.0, open=True)
        if deadline < self.hold_s:
            raise ValidationError(
                f"decide_within_s ({deadline:g} s) must be at least hold_s ({self.hold_s:g} s): "
                "a step cannot be undecided before it has held"
            )
        object.__setattr__(self, "decide_within_s", deadline)

    @property
    def blue_green(self) -> bool:
        """One step straight to 100 %."""
        return self.steps == (100.0,)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RolloutPlan:
        """A plan from its dict form (unknown keys are refused, each one named)."""
        if isinstance(data, RolloutPlan):
            return data
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValidationError(f"a rollout plan must be a RolloutPlan or a dict, got {data!r}")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValidationError(
                f"unknown rollout plan keys {unknown}; use " + ", ".join(cls.__dataclass_fields__)
            )
        values = dict(data)
        if "steps" in values and isinstance(values["steps"], list):
            values["steps"] = tuple(values["steps"])
        return cls(**values)


def parse_steps(text: str) -> tuple[float, ...]:
    """`10,50,100` (or `10 50 100`, with optional %) as percentages."""
    parts = [p.strip().removesuffix("%") for p in text.replace(",", " ").split()]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValidationError(
            f"steps {text!r} must be percentages separated by commas, e.g. 10,50,100"
        ) from None
    return _steps(values)


def _steps(steps: Any) -> tuple[float, ...]:
    if isinstance(steps, str) or not isinstance(steps, tuple | list) or not steps:
        raise ValidationError(
            f"steps must be a non-empty sequence of percentages ending at 100, e.g. "
            f"(10, 50, 100) or (100,) for blue-green; got {steps!r}"
        )
    values = tuple(_number("step", s, minimum=0.0, open=True) for s in steps)
    if any(v > 100 for v in values):
        raise ValidationError(f"steps are percentages of traffic, at most 100; got {steps!r}")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValidationError(
            f"steps must increase strictly (e.g. 10, 50, 100); got {', '.join(map(_pc, values))}"
        )
    if values[-1] != 100:
        raise ValidationError(
            f"the last step must be 100 (all traffic to the candidate before promotion); got "
            f"{', '.join(map(_pc, values))} — append 100"
        )
    return values


def _pc(value: float) -> str:
    return f"{value:g}"


def _number(name: str, value: Any, *, minimum: float, open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (open and value == minimum):
        bound = "greater than" if open else "at least"
        raise ValidationError(f"{name} must be {bound} {minimum:g}, got {value!r}")
    return float(value)


def _count(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return value
