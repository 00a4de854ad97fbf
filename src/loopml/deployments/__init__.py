"""Deployments: named endpoints routing traffic to model versions, with safe rollouts."""

from loopml.deployments.records import STRATEGIES, Deployment, Route, parse_route
from loopml.deployments.rollout_analysis import SloCheck, StepAnalysis
from loopml.deployments.rollout_plan import RolloutPlan
from loopml.deployments.rollout_records import Rollout, RolloutStep
from loopml.deployments.rollouts import RolloutService
from loopml.deployments.service import DeploymentService

__all__ = [
    "STRATEGIES",
    "Deployment",
    "DeploymentService",
    "Rollout",
    "RolloutPlan",
    "RolloutService",
    "RolloutStep",
    "Route",
    "SloCheck",
    "StepAnalysis",
    "parse_route",
]
