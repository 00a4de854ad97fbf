"""How often the sequential canary test decides wrongly, and how fast it decides.

Pure simulation of the decision rule (`loopml.rollouts.sequential.decide`) over many seeded
canaries: the candidate takes 10 % of traffic (one labelled candidate prediction per nine
stable ones), the step is checked after every 10 candidate labels, up to 2,000. Scenarios:
a candidate as good as the stable (a rollback is wrong), one exactly at the allowed drop (a
promotion is wrong), one clearly better, one clearly worse.

    PYTHONPATH=src python bench/canary_decisions.py   # prints JSON
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from loopml.rollouts.sequential import decide, losses

DROP = 0.05
ALPHA = BETA = 0.05
RUNS = 1000
CHECK_EVERY = 10
MAX_CANDIDATE = 2000
STABLE_PER_CANDIDATE = 9

Draw = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def regression(scale: float) -> Draw:
    """Normal errors; the candidate's spread is `scale` times the stable's."""

    def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        truth = rng.normal(0, 1, n)
        return truth, truth + rng.normal(0, scale * 10.0, n)

    return draw


def classifier(miss: float) -> Draw:
    def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        truth = rng.integers(0, 2, n)
        wrong = rng.random(n) < miss
        return truth, np.where(wrong, 1 - truth, truth)

    return draw


def simulate(metric: str, candidate: Draw, stable: Draw, seed: int) -> tuple[str, int]:
    rng = np.random.default_rng(seed)
    c_truth, c_pred = candidate(rng, MAX_CANDIDATE)
    s_truth, s_pred = stable(rng, MAX_CANDIDATE * STABLE_PER_CANDIDATE)
    mine, theirs = losses(metric, c_truth, c_pred), losses(metric, s_truth, s_pred)
    for n in range(CHECK_EVERY * 3, MAX_CANDIDATE + 1, CHECK_EVERY):
        verdict = decide(
            metric,
            mine[:n],
            theirs[: n * STABLE_PER_CANDIDATE],
            drop=DROP,
            false_promotion_rate=ALPHA,
            false_rollback_rate=BETA,
        )
        if verdict.status != "undecided":
            return verdict.status, n
    return "undecided", MAX_CANDIDATE


def scenario(metric: str, candidate: Draw, stable: Draw) -> dict[str, Any]:
    outcomes = [simulate(metric, candidate, stable, seed) for seed in range(RUNS)]
    decided = [n for status, n in outcomes if status != "undecided"]
    return {
        "runs": RUNS,
        "promoted": sum(s == "passed" for s, _ in outcomes) / RUNS,
        "rolled_back": sum(s == "failed" for s, _ in outcomes) / RUNS,
        "undecided": sum(s == "undecided" for s, _ in outcomes) / RUNS,
        "median_candidate_labels_to_decide": float(np.median(decided)) if decided else None,
    }


def main() -> None:
    started = time.perf_counter()
    at_limit_rmse = 1.0 + DROP  # an error spread 5 % wider: rmse exactly at the allowed drop
    report = {
        "rmse": {
            "as_good": scenario("rmse", regression(1.0), regression(1.0)),
            "at_allowed_drop": scenario("rmse", regression(at_limit_rmse), regression(1.0)),
            "better_by_20pc": scenario("rmse", regression(0.8), regression(1.0)),
            "worse_by_20pc": scenario("rmse", regression(1.2), regression(1.0)),
        },
        "accuracy": {
            "as_good": scenario("accuracy", classifier(0.2), classifier(0.2)),
            "at_allowed_drop": scenario("accuracy", classifier(0.2 + DROP), classifier(0.2)),
            "better_by_10_points": scenario("accuracy", classifier(0.1), classifier(0.2)),
            "worse_by_10_points": scenario("accuracy", classifier(0.3), classifier(0.2)),
        },
    }
    print(
        json.dumps(
            {
                "benchmark": "canary_decisions",
                "drop": DROP,
                "false_promotion_rate": ALPHA,
                "false_rollback_rate": BETA,
                "candidate_share": 1 / (1 + STABLE_PER_CANDIDATE),
                "check_every_candidate_labels": CHECK_EVERY,
                "max_candidate_labels": MAX_CANDIDATE,
                "scenarios": report,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
