"""Progressive rollouts: a declared plan of traffic steps with SLOs, analysed per step,
promoted through the approval rules or rolled back by themselves."""

from loopml.rollouts.analysis import SloCheck, StepAnalysis
from loopml.rollouts.plan import RolloutPlan
from loopml.rollouts.records import Rollout, RolloutStep
from loopml.rollouts.service import RolloutService

__all__ = [
    "Rollout",
    "RolloutPlan",
    "RolloutService",
    "RolloutStep",
    "SloCheck",
    "StepAnalysis",
]
