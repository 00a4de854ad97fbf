"""Deployments: named endpoints routing traffic to model versions."""

from loopml.deployments.records import STRATEGIES, Deployment, Route, parse_route
from loopml.deployments.service import DeploymentService

__all__ = [
    "STRATEGIES",
    "Deployment",
    "DeploymentService",
    "Route",
    "parse_route",
]
