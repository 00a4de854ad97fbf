"""A canary's quality judged by a sequential test with stated error rates.

Comparing two point values on a few dozen labels judges noise. Here each labelled
prediction contributes a loss — the squared error (rmse), the absolute error (mae), or a
miss (accuracy) — and the step asks two questions of the candidate's losses against the
stable's, each answered only when the evidence is strong enough:

- promote: is the candidate within the plan's allowed drop? The claim tested is
  L_cand - r·L_stable - a < 0 (r, a from the drop: rmse allows (1 + drop)² times the stable's
  mean squared error, mae (1 + drop) times its mean absolute error, accuracy `drop` more
  misses per prediction). Promoting a candidate that is worse than the allowed drop happens
  with probability at most `false_promotion_rate`.
- roll back: is the candidate worse than the stable at all? The claim L_cand - L_stable > 0;
  rolling back a candidate as good as the stable happens with probability at most
  `false_rollback_rate`.

Both use always-valid confidence sequences (the two-sided normal-mixture boundary of
Robbins, with the sample variance plugged in), so the step may look after every request and
stop as soon as either claim is settled without inflating those rates; until then it waits
(the plan's `on_undecided` says what happens past its deadline); it decides nothing before
100 labelled predictions per side, where the plugged-in variance is still too rough. A
candidate between the
two (slightly worse, within the drop) may go either way: that is the margin's purpose.
The fixed-sample size a classical test would need for the same rates is reported as a guide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from loopml.errors import ValidationError

SEQUENTIAL_METRICS = ("rmse", "mae", "accuracy")
PASSED, FAILED, UNDECIDED = "passed", "failed", "undecided"
MIXTURE_ROWS = 200.0  # the boundary is tightest around this many labelled rows
# The bounds plug in the sample variance, which a few dozen squared errors understate often
# enough to decide wrongly more often than stated: no decision before this many per side.
MIN_ROWS = 100


@dataclass(frozen=True)
class SequentialVerdict:
    """The decision on the losses seen so far, and the figures behind it."""

    status: str  # passed | failed | undecided
    candidate: float  # mean loss per labelled prediction
    stable: float
    allowed: float  # the largest candidate mean loss within the drop
    promote_bound: float  # upper bound of candidate - allowed (promote when < 0)
    rollback_bound: float  # lower bound of candidate - stable (roll back when > 0)
    planned_rows: int | None  # labelled rows per side a fixed-sample test would need
    message: str


def losses(metric: str, truth: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> Any:
    """Each labelled prediction's loss under `metric`."""
    if metric == "accuracy":
        return (truth != predicted).astype(float)
    error = np.asarray(truth, dtype=float) - np.asarray(predicted, dtype=float)
    if metric == "rmse":
        return error**2
    if metric == "mae":
        return np.abs(error)
    raise ValidationError(
        f"a sequential test needs a metric that is a mean over predictions "
        f"({', '.join(SEQUENTIAL_METRICS)}), got {metric!r}"
    )


def allowance(metric: str, drop: float) -> tuple[float, float]:
    """(r, a): the candidate may lose up to r·L_stable + a per prediction."""
    if metric == "rmse":
        return (1.0 + drop) ** 2, 0.0
    if metric == "mae":
        return 1.0 + drop, 0.0
    return 1.0, drop


def radius(se: float, rows: float, rate: float) -> float:
    """Half-width of the always-valid confidence sequence at `rows` observations."""
    rho = MIXTURE_ROWS
    return se * math.sqrt((rows + rho) / rows * math.log((rows + rho) / (rho * rate**2)))


def decide(
    metric: str,
    candidate: np.ndarray[Any, Any],
    stable: np.ndarray[Any, Any],
    *,
    drop: float,
    false_promotion_rate: float,
    false_rollback_rate: float,
) -> SequentialVerdict:
    """Promote, roll back or wait, on per-prediction losses of both sides."""
    n_c, n_s = len(candidate), len(stable)
    if n_c < 2 or n_s < 2:
        raise ValidationError("a sequential test needs at least 2 labelled rows on each side")
    r, a = allowance(metric, drop)
    mean_c, mean_s = float(np.mean(candidate)), float(np.mean(stable))
    var_c, var_s = _variance(metric, candidate), _variance(metric, stable)
    rows = float(n_c + n_s)
    allowed = r * mean_s + a
    se_promote = math.sqrt(var_c / n_c + r * r * var_s / n_s)
    se_rollback = math.sqrt(var_c / n_c + var_s / n_s)
    promote_bound = mean_c - allowed + radius(se_promote, rows, false_promotion_rate)
    rollback_bound = mean_c - mean_s - radius(se_rollback, rows, false_rollback_rate)
    planned = _planned_rows(
        var_c + r * r * var_s, allowed - mean_s, false_promotion_rate, false_rollback_rate
    )
    figures = (
        f"{metric} loss per prediction: candidate {mean_c:.4g} ({n_c} labelled), stable "
        f"{mean_s:.4g} ({n_s}), allowed up to {allowed:.4g}"
    )
    if min(n_c, n_s) < MIN_ROWS:
        status = UNDECIDED
        verdict = f"the test decides from {MIN_ROWS} labelled predictions per side" + (
            f"; a fixed-sample test would need about {planned} per side" if planned else ""
        )
    elif promote_bound < 0:
        status = PASSED
        verdict = (
            f"within the allowed drop {drop:g} (false-promotion rate ≤ {false_promotion_rate:g})"
        )
    elif rollback_bound > 0:
        status = FAILED
        verdict = f"worse than the stable (false-rollback rate ≤ {false_rollback_rate:g})"
    else:
        status = UNDECIDED
        guide = f"; a fixed-sample test would need about {planned} per side" if planned else ""
        verdict = f"not enough evidence either way yet{guide}"
    return SequentialVerdict(
        status,
        mean_c,
        mean_s,
        allowed,
        promote_bound,
        rollback_bound,
        planned,
        f"{figures}: {verdict}",
    )


def _variance(metric: str, values: np.ndarray[Any, Any]) -> float:
    """The sample variance; for misses, that of a rate pulled off 0 and 1 (a run of hits
    must not read as certainty)."""
    if metric == "accuracy":
        p = (float(np.sum(values)) + 1.0) / (len(values) + 2.0)
        return p * (1.0 - p)
    return float(np.var(values, ddof=1))


def _planned_rows(variance: float, gap: float, alpha: float, beta: float) -> int | None:
    """Rows per side for a one-sided fixed-sample test separating 'as good' from 'worse by
    the drop' with these error rates (normal approximation)."""
    if gap <= 0 or variance <= 0:
        return None
    z = NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(1 - beta)
    return math.ceil(z * z * variance / (gap * gap))
