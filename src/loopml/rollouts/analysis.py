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

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from loopml.monitoring.latency import latency
from loopml.monitoring.performance import infer_task, normalise, performance
from loopml.monitoring.windows.queries import labelled_rows, request_rows
from loopml.prediction_log.queries import connect
from loopml.rollouts.plan import LOWER_IS_BETTER, RolloutPlan
from loopml.store import Stores

NO_FEEDBACK = "no feedback yet"


@dataclass(frozen=True)
class SloCheck:
    """One SLO of a step: passed, failed, or skipped (with why)."""

    name: str
    status: str  # "passed", "failed", "skipped"
    value: float | None
    limit: float | None
    message: str

    @property
    def failed(self) -> bool:
        return self.status == "failed"


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

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c.message for c in self.checks if c.failed]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate, "passed": self.passed}


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
    baseline_since: float,
) -> StepAnalysis:
    """Every SLO of `plan` for the candidate's traffic in [since, until)."""
    traffic = candidate_traffic(stores, deployment, candidate, since, until)
    first = min(since, baseline_since)
    with connect(stores, deployment, first, until) as conn:
        mine = _labelled(labelled_rows(conn, since, until, model=candidate))
        theirs = _labelled(labelled_rows(conn, since, until, model=stable))
        if len(theirs) < plan.min_labelled and baseline_since < since:
            theirs = _labelled(labelled_rows(conn, baseline_since, until, model=stable))
    metric, ours, baseline = _metric_values(plan, mine, theirs)
    checks = [
        _error_check(plan, traffic),
        _latency_check(plan, traffic),
        _accuracy_check(plan, metric, ours, baseline, len(mine), len(theirs)),
    ]
    return StepAnalysis(
        since=since,
        until=until,
        requests=traffic.requests,
        errors=traffic.errors,
        p99_ms=traffic.p99_ms,
        metric=metric,
        candidate_value=ours,
        stable_value=baseline,
        candidate_labelled=len(mine),
        stable_labelled=len(theirs),
        checks=checks,
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


def _metric_values(
    plan: RolloutPlan, mine: pd.DataFrame, theirs: pd.DataFrame
) -> tuple[str | None, float | None, float | None]:
    """The metric both sides are compared on, and its value on each (None if unknown)."""
    if plan.max_accuracy_drop is None or mine.empty or theirs.empty:
        return plan.metric, None, None
    both = pd.concat([mine, theirs], ignore_index=True)
    has_proba = any(str(c).startswith("proba_") for c in both.columns)
    task = infer_task(
        [normalise(v) for v in both["label"]],
        [normalise(v) for v in both["prediction"]],
        has_proba=has_proba,
    )
    metric = plan.metric or ("rmse" if task == "regression" else "accuracy")
    ours = performance(mine, task=task).metrics.get(metric)
    baseline = performance(theirs, task=task).metrics.get(metric)
    return metric, ours, baseline


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


def _accuracy_check(
    plan: RolloutPlan,
    metric: str | None,
    ours: float | None,
    baseline: float | None,
    mine: int,
    theirs: int,
) -> SloCheck:
    drop = plan.max_accuracy_drop
    if drop is None:
        return SloCheck("accuracy", "skipped", None, None, "no accuracy SLO")
    if mine < plan.min_labelled or theirs < plan.min_labelled:
        return SloCheck(
            "accuracy",
            "skipped",
            None,
            drop,
            f"{NO_FEEDBACK}: {mine} labelled candidate and {theirs} labelled stable "
            f"predictions, {plan.min_labelled} needed on each side",
        )
    if metric is None or ours is None or baseline is None:
        return SloCheck(
            "accuracy", "skipped", None, drop, f"{metric} cannot be computed on these labels"
        )
    if metric in LOWER_IS_BETTER:
        limit = baseline * (1 + drop)
        passed = ours <= limit
        worse = f"{(ours - baseline) / baseline:+.1%}" if baseline else f"{ours - baseline:+.4g}"
    else:
        limit = baseline - drop
        passed = ours >= limit
        worse = f"{ours - baseline:+.4g}"
    message = (
        f"{metric} {ours:.4g} vs the stable's {baseline:.4g} ({worse}; "
        f"{'within' if passed else 'beyond'} the allowed drop {drop:g})"
    )
    return SloCheck(f"accuracy:{metric}", "passed" if passed else "failed", ours, limit, message)
