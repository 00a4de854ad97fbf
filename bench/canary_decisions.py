"""How often the sequential canary test decides wrongly, and how fast it decides.

Pure simulation of the decision rule (`loopml.rollouts.sequential.decide`) over many seeded
canaries: the candidate takes 10 % of traffic (one labelled candidate prediction per nine
stable ones), the step is checked after every 10 candidate labels, up to 2,000. Scenarios:
a candidate as good as the stable (a rollback is wrong), one exactly at the allowed drop (a
promotion is wrong), one clearly better, one clearly worse.

The `estimate` case judges the same kind of step with no label at all
(`judge_by="labels_or_estimate"` before feedback comes): the real estimators (DLE for a
regressor, CBPE for a classifier) are fitted on a seeded labelled reference, both sides'
windows are estimated as they grow, and `judge_estimates` decides at each look. Each
reference draw is reused for several window draws (fitting DLE dominates the time).

    PYTHONPATH=src python bench/canary_decisions.py                # prints JSON
    PYTHONPATH=src python bench/canary_decisions.py --only estimate
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from loopml.monitoring.estimation import ConfidenceEstimator, LossEstimator
from loopml.rollouts.estimate_verdict import Bands, judge_estimates
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


# ---------------------------------------------------------------------- on the estimate
ESTIMATE_DROP = {"rmse": 0.2, "accuracy": 0.05}  # the margin: see the module docstring
REFERENCE_ROWS = 1000
REFERENCES = 20  # reference draws per scenario
WINDOWS = 25  # window draws per reference
LOOKS = (50, 100, 150, 200)  # candidate rows at each check; the stable serves nine times more
LEVEL = 1 - 2 * ALPHA


def _regression_rows(rng: np.random.Generator, n: int, extra: float) -> tuple[Any, ...]:
    """Inputs, truth and a prediction whose error spread is the noise's times `extra`:
    heteroscedastic noise, so the loss model has something to learn."""
    x = rng.random((n, 2))
    sigma = 1.0 + 2.0 * x[:, 0]
    mean = 10 * x[:, 0] + 5 * x[:, 1]
    truth = mean + rng.normal(0, 1, n) * sigma
    predicted = mean + rng.normal(0, 1, n) * sigma * math.sqrt(max(extra**2 - 1.0, 0.0))
    if extra < 1:  # better than the noise: part of it is predictable
        predicted = truth - (truth - mean) * extra
    return pd.DataFrame(x, columns=["a", "b"]), truth, predicted


def _dle_bands(fitted: LossEstimator, rows: tuple[Any, ...], n: int) -> Bands:
    x, _, predicted = rows
    est = fitted.estimate(x.iloc[:n], predicted[:n], level=LEVEL)["rmse"]
    return Bands(est, est)


def estimate_rmse(extra: float, seed: int) -> list[str]:
    """Verdicts of WINDOWS canaries on one reference draw; the candidate's error spread is
    `extra` times the stable's (1.0: as good)."""
    rng = np.random.default_rng(seed)
    fitted = []
    for spread in (extra, 1.0):
        x, truth, predicted = _regression_rows(rng, REFERENCE_ROWS, spread)
        fitted.append(LossEstimator.fit(x, predicted, truth, seed=seed))
    verdicts = []
    for _ in range(WINDOWS):
        mine = _regression_rows(rng, LOOKS[-1], extra)
        theirs = _regression_rows(rng, LOOKS[-1] * STABLE_PER_CANDIDATE, 1.0)

        def bands(n: int, m: Any = mine, t: Any = theirs) -> tuple[Bands, Bands]:
            ours = _dle_bands(fitted[0], m, n)
            return ours, _dle_bands(fitted[1], t, n * STABLE_PER_CANDIDATE)

        verdicts.append(_first_decision("rmse", bands))
    return verdicts


def _classifier_rows(rng: np.random.Generator, n: int, blur: float) -> tuple[Any, ...]:
    """Calibrated scores of a feature seen through noise of spread `blur` (0: the true odds)."""
    x = rng.normal(0, 1, n)
    truth = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    seen = x + rng.normal(0, blur, n) if blur else x
    score = 1 / (1 + np.exp(-2 * seen))
    return np.column_stack([1 - score, score]), truth


def _accuracy_of(blur: float) -> float:
    """The accuracy a classifier with that blur reaches (on a large sample)."""
    proba, truth = _classifier_rows(np.random.default_rng(12345), 400_000, blur)
    return float(np.mean(proba.argmax(axis=1) == truth))


def _blur_for(drop: float) -> float:
    """The blur that costs `drop` points of accuracy (bisection)."""
    target, low, high = _accuracy_of(0.0) - drop, 0.0, 5.0
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if _accuracy_of(middle) > target else (low, middle)
    return (low + high) / 2


def estimate_accuracy(blur: float, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    fitted = []
    for b in (blur, 0.0):
        proba, truth = _classifier_rows(rng, REFERENCE_ROWS, b)
        fitted.append(ConfidenceEstimator.fit(proba, truth.tolist(), [0, 1]))
    verdicts = []
    for _ in range(WINDOWS):
        mine, _ = _classifier_rows(rng, LOOKS[-1], blur)
        theirs, _ = _classifier_rows(rng, LOOKS[-1] * STABLE_PER_CANDIDATE, 0.0)

        def bands(n: int, m: Any = mine, t: Any = theirs) -> tuple[Bands, Bands]:
            ours = fitted[0].estimate(m[:n], level=LEVEL)["accuracy"]
            stable = fitted[1].estimate(t[: n * STABLE_PER_CANDIDATE], level=LEVEL)["accuracy"]
            return Bands(ours, ours), Bands(stable, stable)

        verdicts.append(_first_decision("accuracy", bands))
    return verdicts


def _first_decision(metric: str, bands: Callable[[int], tuple[Bands, Bands]]) -> str:
    """The first verdict that is not undecided over the looks (each look re-estimates)."""
    for n in LOOKS:
        ours, theirs = bands(n)
        status = judge_estimates(metric, ESTIMATE_DROP[metric], ours, theirs)[0]
        if status != "undecided":
            return status
    return "undecided"


def estimate_scenario(run: Callable[[int], list[str]]) -> dict[str, Any]:
    verdicts = [v for seed in range(REFERENCES) for v in run(seed)]
    total = len(verdicts)
    return {
        "runs": total,
        "promoted": verdicts.count("passed") / total,
        "rolled_back": verdicts.count("failed") / total,
        "undecided": verdicts.count("undecided") / total,
    }


def estimate_report() -> dict[str, Any]:
    drop = ESTIMATE_DROP["rmse"]
    at_drop = _blur_for(ESTIMATE_DROP["accuracy"])
    return {
        "margin": ESTIMATE_DROP,
        "band_level": LEVEL,
        "reference_rows": REFERENCE_ROWS,
        "references_per_scenario": REFERENCES,
        "windows_per_reference": WINDOWS,
        "looks_at_candidate_rows": list(LOOKS),
        "rmse_dle": {
            "as_good": estimate_scenario(lambda seed: estimate_rmse(1.0, seed)),
            "at_allowed_drop": estimate_scenario(lambda seed: estimate_rmse(1.0 + drop, seed)),
            "worse_by_2x_drop": estimate_scenario(lambda seed: estimate_rmse(1.0 + 2 * drop, seed)),
            "much_worse_2x_rmse": estimate_scenario(lambda seed: estimate_rmse(2.0, seed)),
        },
        "accuracy_cbpe": {
            "as_good": estimate_scenario(lambda seed: estimate_accuracy(0.0, seed)),
            "at_allowed_drop": estimate_scenario(lambda seed: estimate_accuracy(at_drop, seed)),
            "worse_by_15_points": estimate_scenario(
                lambda seed: estimate_accuracy(_blur_for(0.15), seed)
            ),
        },
    }


def labels_report() -> dict[str, Any]:
    at_limit_rmse = 1.0 + DROP  # an error spread 5 % wider: rmse exactly at the allowed drop
    return {
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", choices=("labels", "estimate"), help="one case only")
    args = parser.parse_args()
    started = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "canary_decisions",
        "drop": DROP,
        "false_promotion_rate": ALPHA,
        "false_rollback_rate": BETA,
        "candidate_share": 1 / (1 + STABLE_PER_CANDIDATE),
    }
    if args.only != "estimate":
        result.update(
            {
                "check_every_candidate_labels": CHECK_EVERY,
                "max_candidate_labels": MAX_CANDIDATE,
                "scenarios": labels_report(),
            }
        )
    if args.only != "labels":
        result["estimate"] = estimate_report()
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
