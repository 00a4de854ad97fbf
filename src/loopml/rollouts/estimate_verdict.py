"""A canary step's quality judged on estimated performance, while labels lag.

Both sides of the step window are estimated from their predictions alone (CBPE for
classifiers, DLE for regressors; see `loopml.monitoring.estimation`), each with a band. The
plan's `max_accuracy_drop` is the margin, as with labels: the candidate's estimate may be up
to that much worse than the stable's (rmse, mae: that fraction higher; accuracy, f1, roc_auc:
that much lower). Let `excess` be how far the candidate's estimate lies beyond the allowed
value (positive: worse than allowed). The step

- passes when `excess` plus the bands' doubt on the worse side is below zero — the candidate
  is within the margin even at the unfavourable ends of both bands, taken at the level
  1 - 2·`false_promotion_rate` and combined in quadrature;
- fails when `excess` minus the bands' doubt on the better side is above zero — the
  candidate is beyond the margin even at the favourable ends (level
  1 - 2·`false_rollback_rate`). An estimate rolls back only a candidate shown worse than the
  margin, never one merely worse than the stable: an estimate cannot see a change of the
  relation between inputs and outcome, so it needs the clearer evidence;
- otherwise stays undecided (and waits for labels or the plan's deadline).

Those rates hold as far as the bands do: while the reference still describes the traffic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from loopml.monitoring.estimation.estimate import Estimate
from loopml.rollouts.plan import LOWER_IS_BETTER

PASSED, FAILED, UNDECIDED = "passed", "failed", "undecided"
METHOD_METRICS = {"dle": ("rmse", "mae"), "cbpe": ("accuracy", "f1", "roc_auc")}
DEFAULT_METRIC = {"dle": "rmse", "cbpe": "accuracy"}


@dataclass(frozen=True)
class EstimatedSide:
    """One side's estimated metric over the step window and its band (at the promote
    level, the narrower of the two when the rates differ)."""

    model: str
    rows: int
    value: float | None
    lower: float | None
    upper: float | None

    @classmethod
    def of(cls, model: str, rows: int, estimate: Estimate | None) -> EstimatedSide:
        if estimate is None:
            return cls(model, rows, None, None, None)
        return cls(model, rows, estimate.value, estimate.lower, estimate.upper)


@dataclass(frozen=True)
class EstimatedQuality:
    """What the estimate said about a step: both sides, the margin and the verdict."""

    method: str  # cbpe | dle
    metric: str
    reference: str  # the labelled dataset version the estimators were fitted on
    target: str
    candidate: EstimatedSide
    stable: EstimatedSide
    margin: float
    allowed: float | None  # the worst candidate value within the margin
    promote_bound: float | None  # excess at the unfavourable band ends (pass when < 0)
    rollback_bound: float | None  # excess at the favourable band ends (fail when > 0)
    status: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EstimatedQuality:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["candidate"] = EstimatedSide(**data["candidate"])
        values["stable"] = EstimatedSide(**data["stable"])
        return cls(**values)


@dataclass(frozen=True)
class Bands:
    """A side's estimate at the promote level and at the rollback level."""

    promote: Estimate
    rollback: Estimate


def judge_estimates(
    metric: str, margin: float, candidate: Bands, stable: Bands
) -> tuple[str, float | None, float | None, float | None, str]:
    """(status, allowed, promote_bound, rollback_bound, message) for one step."""
    c, s = candidate.promote.value, stable.promote.value
    if c is None or s is None:
        side = "candidate" if c is None else "stable"
        return UNDECIDED, None, None, None, f"the {side}'s {metric} could not be estimated"
    lower_better = metric in LOWER_IS_BETTER
    allowed = s * (1 + margin) if lower_better else s - margin
    scale = 1 + margin if lower_better else 1.0
    excess = c - allowed if lower_better else allowed - c
    worse = _doubt(candidate.promote, stable.promote, scale, lower_better, unfavourable=True)
    better = _doubt(candidate.rollback, stable.rollback, scale, lower_better, unfavourable=False)
    figures = (
        f"estimated {metric} {c:.4g} ({_band(candidate.promote)}) vs the stable's {s:.4g} "
        f"({_band(stable.promote)}), allowed up to {allowed:.4g} (margin {margin:g})"
        if lower_better
        else f"estimated {metric} {c:.4g} ({_band(candidate.promote)}) vs the stable's "
        f"{s:.4g} ({_band(stable.promote)}), allowed down to {allowed:.4g} (margin {margin:g})"
    )
    if worse is None or better is None:
        return UNDECIDED, allowed, None, None, f"{figures}: an estimate has no band"
    promote_bound, rollback_bound = excess + worse, excess - better
    if promote_bound < 0:
        return PASSED, allowed, promote_bound, rollback_bound, f"{figures}: within the margin"
    if rollback_bound > 0:
        return FAILED, allowed, promote_bound, rollback_bound, f"{figures}: beyond the margin"
    verdict = "the bands overlap the margin: not enough evidence either way"
    return UNDECIDED, allowed, promote_bound, rollback_bound, f"{figures}: {verdict}"


def _doubt(
    candidate: Estimate, stable: Estimate, scale: float, lower_better: bool, *, unfavourable: bool
) -> float | None:
    """How far the two bands can move the excess in one direction, combined in quadrature:
    unfavourable — the candidate worse and the stable better than estimated."""
    if None in (candidate.value, candidate.lower, candidate.upper, stable.lower, stable.upper):
        return None
    assert candidate.value is not None and stable.value is not None
    up_c = (candidate.upper or 0.0) - candidate.value
    down_c = candidate.value - (candidate.lower or 0.0)
    up_s = (stable.upper or 0.0) - stable.value
    down_s = stable.value - (stable.lower or 0.0)
    # Lower is better: the excess grows with the candidate and shrinks with the stable.
    if lower_better == unfavourable:
        return math.hypot(up_c, scale * down_s)
    return math.hypot(down_c, scale * up_s)


def _band(estimate: Estimate) -> str:
    if estimate.lower is None or estimate.upper is None:
        return "no band"
    return f"{estimate.lower:.4g} to {estimate.upper:.4g}"
