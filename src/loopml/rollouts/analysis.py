"""The analysis of one rollout step: the candidate's traffic of the step window, read from
the deployment's prediction log, checked against the plan's SLOs.

Requests and errors count the candidate's own requests (answered or failed, shadows left
out); a request that never reached a model (unparseable body) counts for nobody. Accuracy
compares the candidate with the stable version on labelled predictions of the same window.
When the stable served too little of it (a 100 % step takes all its traffic away), the
stable's window widens to start one hold before the rollout began, so blue-green compares
against what the stable did just before the switch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import NotFoundError, ValidationError
from loopml.monitoring.latency import latency
from loopml.monitoring.performance import infer_task, normalise, performance
from loopml.monitoring.windows.queries import labelled_rows, request_rows
from loopml.prediction_log.queries import connect
from loopml.rollouts.estimate_verdict import EstimatedQuality
from loopml.rollouts.plan import (
    ESTIMATE,
    LABELS,
    LABELS_OR_ESTIMATE,
    LOWER_IS_BETTER,
    SEQUENTIAL,
    RolloutPlan,
)
from loopml.rollouts.sequential import MIN_ROWS, decide, losses
from loopml.store import Stores

NO_FEEDBACK = "not enough feedback yet"
PASSED, FAILED, SKIPPED, UNDECIDED = "passed", "failed", "skipped", "undecided"
# The candidate's and the stable's prediction-log rows of the step window (labelled or not)
# → the quality judged on their estimated performance.
EstimateStep = Callable[[pd.DataFrame, pd.DataFrame], EstimatedQuality]


@dataclass(frozen=True)
class SloCheck:
    """One SLO of a step: passed, failed, skipped (the SLO is off), or undecided (it cannot
    be judged on the window yet: the step waits)."""

    name: str
    status: str  # "passed", "failed", "skipped", "undecided"
    value: float | None
    limit: float | None
    message: str

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def undecided(self) -> bool:
        return self.status == UNDECIDED


@dataclass(frozen=True)
class StepAnalysis:
    """The candidate's numbers over [since, until) and each SLO's verdict."""

    since: float
    until: float
    requests: int
    errors: int
    p99_ms: float | None
    metric: str | None
    candidate_value: float | None
    stable_value: float | None
    candidate_labelled: int
    stable_labelled: int
    checks: list[SloCheck] = field(default_factory=list)
    basis: str | None = None  # what judged the quality SLO: "labels", "estimate" (None: off)
    estimated: EstimatedQuality | None = None  # the estimate, when the plan consulted it

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def passed(self) -> bool:
        """Every SLO passed or is off: nothing failed and nothing is left undecided."""
        return not any(c.failed or c.undecided for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c.message for c in self.checks if c.failed]

    @property
    def undecided(self) -> list[str]:
        """Why the step cannot be judged yet (empty when it can)."""
        return [c.message for c in self.checks if c.undecided]

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "error_rate": self.error_rate,
            "passed": self.passed,
            "undecided": self.undecided,
        }


@dataclass(frozen=True)
class Traffic:
    """What the candidate got so far in a step window (cheap: no labels read)."""

    requests: int
    errors: int
    p99_ms: float | None


def candidate_traffic(
    stores: Stores, deployment: str, candidate: str, since: float, until: float
) -> Traffic:
    """Requests, errors and p99 latency of `candidate` (a model URI) in [since, until)."""
    with connect(stores, deployment, since, until) as conn:
        requests = request_rows(conn, since, until)
    mine = requests[requests["model"] == candidate]
    if mine.empty:
        return Traffic(0, 0, None)
    [summary] = [r for r in latency(mine) if r.model == candidate]
    return Traffic(summary.requests, summary.errors, summary.p99_ms)


def analyse_step(
    stores: Stores,
    deployment: str,
    *,
    candidate: str,
    stable: str,
    plan: RolloutPlan,
    since: float,
    until: float,
    estimate: EstimateStep | None = None,
) -> StepAnalysis:
    """Every SLO of `plan` for the candidate's traffic in [since, until), its quality against
    the stable's on that same window (the stable's mirrored answers count: at 100 % they are
    all it gives) — on labels, or on `estimate` where the plan's `judge_by` says so."""
    traffic = candidate_traffic(stores, deployment, candidate, since, until)
    with connect(stores, deployment, since, until) as conn:
        served = labelled_rows(conn, since, until, model=candidate)
        compared = labelled_rows(conn, since, until, model=stable, include_shadow=True)
    mine, theirs = _labelled(served), _labelled(compared)
    quality = judge_quality(plan, mine, theirs)
    if plan.judge_by == ESTIMATE or (plan.judge_by == LABELS_OR_ESTIMATE and quality.starved):
        quality = _on_estimate(plan, estimate, served, compared, quality)
    return StepAnalysis(
        since=since,
        until=until,
        requests=traffic.requests,
        errors=traffic.errors,
        p99_ms=traffic.p99_ms,
        metric=quality.metric,
        candidate_value=quality.candidate,
        stable_value=quality.stable,
        candidate_labelled=len(mine),
        stable_labelled=len(theirs),
        checks=[_error_check(plan, traffic), _latency_check(plan, traffic), quality.check],
        basis=quality.basis,
        estimated=quality.estimated,
    )


def _on_estimate(
    plan: RolloutPlan,
    estimate: EstimateStep | None,
    served: pd.DataFrame,
    compared: pd.DataFrame,
    labels: Quality,
) -> Quality:
    """The quality SLO judged on both sides' estimated performance over the window."""
    why = "" if plan.judge_by == ESTIMATE else f" ({labels.check.message})"
    name = f"accuracy:{plan.metric}" if plan.metric else "accuracy"
    if estimate is None:
        message = "the plan judges by estimate, but no estimator was given for this step"
        check = SloCheck(name, UNDECIDED, None, plan.max_accuracy_drop, message)
        return Quality(plan.metric, None, None, check, basis=ESTIMATE)
    if min(len(served), len(compared)) < plan.min_labelled:
        message = (
            f"too few predictions to estimate: {len(served)} candidate and {len(compared)} "
            f"stable in this window, {plan.min_labelled} needed on each side{why}"
        )
        check = SloCheck(name, UNDECIDED, None, plan.max_accuracy_drop, message)
        return Quality(plan.metric, None, None, check, basis=ESTIMATE)
    try:
        found = estimate(served, compared)
    except (ValidationError, NotFoundError) as exc:
        check = SloCheck(name, UNDECIDED, None, plan.max_accuracy_drop, f"no estimate: {exc}")
        return Quality(plan.metric, None, None, check, basis=ESTIMATE)
    check = SloCheck(
        f"accuracy:{found.metric}",
        found.status,
        found.candidate.value,
        found.allowed,
        f"on the estimate ({found.method.upper()}, no labels needed): {found.message}{why}",
    )
    return Quality(
        found.metric,
        found.candidate.value,
        found.stable.value,
        check,
        basis=ESTIMATE,
        estimated=found,
    )


def traffic_analysis(
    plan: RolloutPlan, traffic: Traffic, since: float, until: float
) -> StepAnalysis:
    """The error-rate and latency SLOs alone: enough to fail a step before its hold ends."""
    return StepAnalysis(
        since=since,
        until=until,
        requests=traffic.requests,
        errors=traffic.errors,
        p99_ms=traffic.p99_ms,
        metric=plan.metric,
        candidate_value=None,
        stable_value=None,
        candidate_labelled=0,
        stable_labelled=0,
        checks=[_error_check(plan, traffic), _latency_check(plan, traffic)],
    )


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["label"].notna()].reset_index(drop=True)


def _error_check(plan: RolloutPlan, traffic: Traffic) -> SloCheck:
    limit = plan.max_error_rate
    if limit is None:
        return SloCheck("error_rate", "skipped", None, None, "no error-rate SLO")
    if not traffic.requests:
        return SloCheck("error_rate", "skipped", None, limit, "the candidate got no requests")
    rate = traffic.errors / traffic.requests
    passed = rate <= limit
    message = (
        f"error rate {rate:.2%} ({traffic.errors} of {traffic.requests} requests failed) "
        f"{'within' if passed else 'above'} the limit {limit:.2%}"
    )
    return SloCheck("error_rate", "passed" if passed else "failed", rate, limit, message)


def _latency_check(plan: RolloutPlan, traffic: Traffic) -> SloCheck:
    limit = plan.max_p99_ms
    if limit is None:
        return SloCheck("p99_ms", "skipped", traffic.p99_ms, None, "no latency SLO")
    if traffic.p99_ms is None:
        return SloCheck("p99_ms", "skipped", None, limit, "no answered request to time")
    passed = traffic.p99_ms <= limit
    message = (
        f"p99 latency {traffic.p99_ms:.1f} ms {'within' if passed else 'above'} "
        f"the limit {limit:g} ms"
    )
    return SloCheck("p99_ms", "passed" if passed else "failed", traffic.p99_ms, limit, message)


@dataclass(frozen=True)
class Quality:
    """The quality SLO of a step: the metric, its value on each side, and the verdict."""

    metric: str | None
    candidate: float | None
    stable: float | None
    check: SloCheck
    basis: str | None = LABELS
    starved: bool = False  # undecided for want of labels (too few in all, or of a class)
    estimated: EstimatedQuality | None = None


def judge_quality(plan: RolloutPlan, mine: pd.DataFrame, theirs: pd.DataFrame) -> Quality:
    """The candidate's labelled predictions (`mine`) against the stable's (`theirs`), both of
    the same window: passed, failed, or undecided when the figure would not be fair."""
    drop = plan.max_accuracy_drop
    if drop is None:
        return Quality(
            plan.metric,
            None,
            None,
            SloCheck("accuracy", SKIPPED, None, None, "no accuracy SLO"),
            basis=None,
        )
    if len(mine) < plan.min_labelled or len(theirs) < plan.min_labelled:
        message = (
            f"{NO_FEEDBACK}: {len(mine)} labelled candidate and {len(theirs)} labelled stable "
            f"predictions in this window, {plan.min_labelled} needed on each side"
        )
        return Quality(
            plan.metric, None, None, _undecided(plan.metric, drop, message), starved=True
        )
    both = pd.concat([mine, theirs], ignore_index=True)
    has_proba = any(str(c).startswith("proba_") for c in both.columns)
    task = infer_task(
        [normalise(v) for v in both["label"]],
        [normalise(v) for v in both["prediction"]],
        has_proba=has_proba,
    )
    metric = plan.metric or ("rmse" if task == "regression" else "accuracy")
    labels = None
    if task == "classification":
        short = _short_classes(plan, mine, theirs)
        if short is not None:
            return Quality(metric, None, None, _undecided(metric, drop, short), starved=True)
        labels = _class_order(both, has_proba)
    if plan.quality_test == SEQUENTIAL:
        quality = _sequential(plan, metric, drop, mine, theirs)
        starved = quality.check.undecided and min(len(mine), len(theirs)) < MIN_ROWS
        return Quality(
            quality.metric, quality.candidate, quality.stable, quality.check, starved=starved
        )
    mine_result = performance(mine, task=task, labels=labels)
    theirs_result = performance(theirs, task=task, labels=labels)
    ours, baseline = mine_result.metrics.get(metric), theirs_result.metrics.get(metric)
    if ours is None or baseline is None:
        notes = mine_result.message if ours is None else theirs_result.message
        side = "candidate" if ours is None else "stable"
        message = f"{metric} cannot be computed on the {side}'s labels of this window"
        if metric not in mine_result.metrics:
            message = f"{metric} is not a {task} metric; set the plan's metric to one that is"
        elif notes:
            message += f" ({notes})"
        return Quality(metric, ours, baseline, _undecided(metric, drop, message))
    return Quality(metric, ours, baseline, _compare(metric, drop, ours, baseline))


def _sequential(
    plan: RolloutPlan, metric: str, drop: float, mine: pd.DataFrame, theirs: pd.DataFrame
) -> Quality:
    """The quality SLO decided by the sequential test on per-prediction losses."""
    sides = []
    for frame in (mine, theirs):
        truth = [normalise(v) for v in frame["label"]]
        predicted = [normalise(v) for v in frame["prediction"]]
        if metric == "accuracy":
            sides.append(losses(metric, _as_text(truth), _as_text(predicted)))
        else:
            sides.append(losses(metric, np.asarray(truth, float), np.asarray(predicted, float)))
    verdict = decide(
        metric,
        sides[0],
        sides[1],
        drop=drop,
        false_promotion_rate=plan.false_promotion_rate,
        false_rollback_rate=plan.false_rollback_rate,
    )
    ours, baseline = _value(metric, sides[0]), _value(metric, sides[1])
    limit = _value(metric, np.asarray([verdict.allowed]))
    check = SloCheck(f"accuracy:{metric}", verdict.status, ours, limit, verdict.message)
    return Quality(metric, ours, baseline, check)


def _as_text(values: list[Any]) -> Any:
    return np.asarray([str(v) for v in values], dtype=object)


def _value(metric: str, loss: Any) -> float:
    """The metric from its per-prediction losses (rmse: root of the mean squared error)."""
    mean = float(np.mean(loss))
    return math.sqrt(mean) if metric == "rmse" else (1.0 - mean if metric == "accuracy" else mean)


def _undecided(metric: str | None, drop: float, message: str) -> SloCheck:
    return SloCheck(f"accuracy:{metric}" if metric else "accuracy", UNDECIDED, None, drop, message)


def _short_classes(plan: RolloutPlan, mine: pd.DataFrame, theirs: pd.DataFrame) -> str | None:
    """Why the labels of the window cannot compare two classifiers fairly, or None."""
    counts = {
        "candidate": Counter(normalise(v) for v in mine["label"]),
        "stable": Counter(normalise(v) for v in theirs["label"]),
    }
    classes = _sorted(set(counts["candidate"]) | set(counts["stable"]))
    if len(classes) < 2:
        return (
            f"the labels of this window hold one class ({classes[0]!r}): a classifier's "
            "quality cannot be compared on them"
        )
    short = [
        f"{cls!r}: {counts['candidate'][cls]} candidate / {counts['stable'][cls]} stable"
        for cls in classes
        if min(counts["candidate"][cls], counts["stable"][cls]) < plan.min_per_class
    ]
    if not short:
        return None
    return (
        f"too few labelled predictions of a class in this window ({'; '.join(short)}), "
        f"{plan.min_per_class} needed of each class on each side"
    )


def _class_order(both: pd.DataFrame, has_proba: bool) -> list[Any] | None:
    """One class order for both sides: every class labelled or predicted in the window, when
    it accounts for every probability column (else each side infers its own)."""
    if not has_proba:
        return None
    seen = {normalise(v) for v in [*both["label"], *both["prediction"]]} - {None}
    columns = [c for c in both.columns if str(c).startswith("proba_") and str(c)[6:].isdigit()]
    return _sorted(seen) if len(seen) == len(columns) else None


def _sorted(values: set[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # numbers and text mixed: compare as text, as performance() does
        return sorted(values, key=str)


def _compare(metric: str, drop: float, ours: float, baseline: float) -> SloCheck:
    if metric in LOWER_IS_BETTER:
        limit = baseline * (1 + drop)
        passed = ours <= limit
        worse = f"{(ours - baseline) / baseline:+.1%}" if baseline else f"{ours - baseline:+.4g}"
    else:
        limit = baseline - drop
        passed = ours >= limit
        worse = f"{ours - baseline:+.4g}"
    message = (
        f"{metric} {ours:.4g} vs the stable's {baseline:.4g} on the same window ({worse}; "
        f"{'within' if passed else 'beyond'} the allowed drop {drop:g})"
    )
    return SloCheck(f"accuracy:{metric}", PASSED if passed else FAILED, ours, limit, message)
