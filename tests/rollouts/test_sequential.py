"""The sequential quality test of a canary step: its error rates over many seeded canaries
(a pure simulation of the decision rule, checked after every few labels), and real
rollouts on the prediction log that wait for evidence, then promote or roll back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from loopml.errors import ValidationError
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.rollouts import RolloutPlan
from loopml.rollouts.sequential import decide, losses
from loopml.sdk import Client
from tests.deployments.conftest import Register
from tests.rollouts.test_service import NAME, V1, V2, routes, setup

RATE = 0.05
DROP = 0.05
RUNS = 300
_ids = itertools.count()


def canary(metric: str, candidate_scale: float, seed: int) -> str:
    """One simulated step at 10 % traffic, checked every 10 candidate labels up to 1,000
    (from the first 30: the rule itself refuses to decide on fewer than 100)."""
    rng = np.random.default_rng(seed)
    if metric == "rmse":
        mine = losses(metric, np.zeros(1000), rng.normal(0, candidate_scale, 1000))
        theirs = losses(metric, np.zeros(9000), rng.normal(0, 1.0, 9000))
    else:
        mine = (rng.random(1000) < candidate_scale).astype(float)
        theirs = (rng.random(9000) < 0.2).astype(float)
    for n in range(30, 1001, 10):
        verdict = decide(
            metric,
            mine[:n],
            theirs[: 9 * n],
            drop=DROP,
            false_promotion_rate=RATE,
            false_rollback_rate=RATE,
        )
        if verdict.status != "undecided":
            return verdict.status
    return "undecided"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("metric", "as_good", "at_limit", "clearly_better"),
    [("rmse", 1.0, 1.0 + DROP, 0.8), ("accuracy", 0.2, 0.2 + DROP, 0.1)],
)
def test_wrong_decisions_stay_under_the_stated_rates_however_often_a_step_looks(
    metric: str, as_good: float, at_limit: float, clearly_better: float
) -> None:
    same = [canary(metric, as_good, seed) for seed in range(RUNS)]
    limit = [canary(metric, at_limit, 10_000 + seed) for seed in range(RUNS)]
    better = [canary(metric, clearly_better, 20_000 + seed) for seed in range(RUNS)]
    false_rollbacks = same.count("failed") / RUNS
    false_promotions = limit.count("passed") / RUNS
    assert false_rollbacks <= RATE, false_rollbacks
    assert false_promotions <= RATE, false_promotions
    # and it is not a rule that never decides: a clearly better candidate gets through
    assert better.count("passed") / RUNS >= 0.8


def send(client: Client, model: str, start: float, n: int, noise: float, **kw: bool) -> None:
    """`n` answered requests with feedback: the truth is the prediction + N(0, noise)."""
    rng = np.random.default_rng(next(_ids))
    with PredictionLog(client.stores) as log:
        for i in range(n):
            request_id = f"seq-{next(_ids)}"
            prediction = float(rng.normal(100, 20))
            at = start + i * 0.01
            log.record(
                PredictionRecord(
                    deployment=NAME,
                    request_id=request_id,
                    model=model,
                    inputs=[{"temp": 3.0}],
                    outputs=[prediction],
                    probabilities=None,
                    latency_ms=5.0,
                    at=at,
                    **kw,
                )
            )
            truth = prediction + float(rng.normal(0, noise))
            log.record_feedback(NAME, request_id, truth, at=at + 0.001)


PLAN = RolloutPlan(
    steps=(50, 100), hold_s=60, min_requests=20, min_labelled=20, quality_test="sequential"
)


@pytest.mark.slow
def test_a_step_waits_for_evidence_then_a_better_candidate_is_promoted(
    client: Client, register: Register
) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", PLAN)
    started = rollout.step_started_at or 0
    send(client, V2, started + 1, 30, noise=5.0)
    send(client, V1, started + 1, 30, noise=10.0)
    waiting = client.rollouts.advance(NAME, now=started + 65)
    assert waiting.action == "wait" and waiting.rollout.weight == 50
    [why] = waiting.waiting_for
    assert "decides from 100 labelled predictions per side" in why
    send(client, V2, started + 2, 400, noise=5.0)
    send(client, V1, started + 2, 400, noise=10.0)
    moved = client.rollouts.advance(NAME, now=started + 70)
    assert moved.action == "step" and moved.rollout.weight == 100
    assert (
        moved.analysis is not None
        and "within the allowed drop" in moved.analysis.checks[-1].message
    )
    started = moved.rollout.step_started_at or 0
    send(client, V2, started + 1, 430, noise=5.0)
    send(client, V1, started + 1, 430, noise=10.0, shadow=True)
    done = client.rollouts.advance(NAME, now=started + 65)
    assert done.rollout.state == "promoted"
    assert [(r.uri, r.weight) for r in routes(client)] == [(V2, 100.0)]


@pytest.mark.slow
def test_a_worse_candidate_is_rolled_back_once_shown_worse(
    client: Client, register: Register
) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", PLAN)
    started = rollout.step_started_at or 0
    send(client, V2, started + 1, 300, noise=20.0)
    send(client, V1, started + 1, 300, noise=10.0)
    step = client.rollouts.advance(NAME, now=started + 65)
    assert step.rollout.state == "rolled_back"
    assert "worse than the stable (false-rollback rate ≤ 0.05)" in step.rollout.reasons[0]
    assert [(r.uri, r.weight) for r in routes(client)] == [(V1, 100.0)]


def test_sequential_plans_are_checked() -> None:
    with pytest.raises(ValidationError, match="quality_test must be 'point'"):
        RolloutPlan(quality_test="bayes")
    with pytest.raises(ValidationError, match="false_rollback_rate must be a probability"):
        RolloutPlan(quality_test="sequential", false_rollback_rate=0.7)
    with pytest.raises(ValidationError, match="use metric rmse, mae or accuracy"):
        RolloutPlan(quality_test="sequential", metric="r2")
    plan = RolloutPlan.from_dict({"quality_test": "sequential", "false_promotion_rate": 0.01})
    assert RolloutPlan.from_dict(plan.to_dict()) == plan
