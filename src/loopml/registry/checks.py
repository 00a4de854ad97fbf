"""Automatic checks of an approval policy, run when a request is opened and recorded on it."""

from __future__ import annotations

import operator
import time
from typing import Any

from loopml.errors import LoopmlError
from loopml.governance.fairness import FairnessReport
from loopml.registry.evaluation import HIGHER_IS_BETTER, EvaluationService, stored_replays
from loopml.registry.policy import Policy
from loopml.registry.records import ModelVersion

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _check(name: str, passed: bool, message: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "passed": passed, "message": message, **extra}


def run_checks(
    policy: Policy,
    candidate: ModelVersion,
    holder: ModelVersion | None,
    evaluations: EvaluationService,
) -> list[dict[str, Any]]:
    """Every check the policy asks for; a check that cannot be computed fails, never passes."""
    results = []
    for rule in policy.thresholds:
        value = candidate.metrics.get(rule.metric)
        label = f"threshold {rule.metric} {rule.op} {rule.value:g}"
        if value is None:
            results.append(
                _check(
                    label,
                    False,
                    f"{candidate.uri}'s run logged no metric {rule.metric!r}",
                    limit=rule.value,
                )
            )
        else:
            passed = _OPS[rule.op](value, rule.value)
            results.append(
                _check(label, passed, f"{rule.metric} = {value:.6g}", value=value, limit=rule.value)
            )
    if policy.no_regression is not None:
        results.append(_no_regression(policy, candidate, holder, evaluations))
    if policy.fairness is not None:
        results.extend(_fairness(policy, candidate, evaluations))
    if policy.replay is not None:
        results.append(_replay(policy, candidate, holder, evaluations))
    return results


def _replay(
    policy: Policy,
    candidate: ModelVersion,
    holder: ModelVersion | None,
    evaluations: EvaluationService,
) -> dict[str, Any]:
    rule = policy.replay
    assert rule is not None
    label = f"passing replay on {rule.deployment}"
    now = time.time()
    fitting = [
        r
        for r in stored_replays(evaluations.stores.engine, candidate.id, rule.deployment)
        if now - r["created_at"] <= rule.max_age_s
        and (holder is None or holder.id == candidate.id or r.get("stable") == holder.uri)
    ]
    if not fitting:
        against = "" if holder is None else f" against {holder.uri}"
        return _check(
            label,
            False,
            f"no replay of {candidate.uri} on {rule.deployment}{against} in the last "
            f"{rule.max_age_s:g} s; run `loopml replay {candidate.uri} --deployment "
            f"{rule.deployment}`",
        )
    verdict = fitting[0].get("verdict") or {}
    return _check(
        label,
        verdict.get("passed") is True,
        str(verdict.get("reason")),
        evaluation=fitting[0]["evaluation_id"],
    )


def _no_regression(
    policy: Policy,
    candidate: ModelVersion,
    holder: ModelVersion | None,
    evaluations: EvaluationService,
) -> dict[str, Any]:
    rule = policy.no_regression
    assert rule is not None
    label = f"no regression in {rule.metric} on {rule.dataset} (margin {rule.margin:g})"
    try:
        new = evaluations.evaluate(candidate, rule.dataset, rule.target)["metrics"]
        if holder is None or holder.id == candidate.id:
            return _check(
                label,
                True,
                f"no current holder to compare with; {rule.metric} = "
                f"{new.get(rule.metric, float('nan')):.6g}",
                value=new.get(rule.metric),
            )
        old = evaluations.evaluate(holder, rule.dataset, rule.target)["metrics"]
    except LoopmlError as exc:
        return _check(label, False, f"could not evaluate: {exc}")
    if rule.metric not in new or rule.metric not in old:
        return _check(label, False, f"{rule.metric} is not defined for this task")
    a, b = new[rule.metric], old[rule.metric]
    higher = HIGHER_IS_BETTER[rule.metric]
    passed = a >= b - rule.margin if higher else a <= b + rule.margin
    return _check(
        label, passed, f"{candidate.uri}: {a:.6g} vs {holder.uri}: {b:.6g}", value=a, baseline=b
    )


def _fairness(
    policy: Policy, candidate: ModelVersion, evaluations: EvaluationService
) -> list[dict[str, Any]]:
    rule = policy.fairness
    assert rule is not None
    try:
        result = evaluations.evaluate(candidate, rule.dataset, rule.target, rule.sensitive)
    except LoopmlError as exc:
        return [_check(f"fairness on {rule.dataset}", False, f"could not evaluate: {exc}")]
    report = FairnessReport.from_dict(result["fairness"])
    return [
        _check(f"fairness {c.name}", c.passed, c.message, value=c.value, limit=c.limit)
        for c in report.check(rule.limits)
    ]
