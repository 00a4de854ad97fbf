"""Deployments: named endpoints routing traffic to model versions."""

from loopml.deployments.records import STRATEGIES, Deployment, Route, parse_route
from loopml.deployments.service import DeploymentService
from loopml.deployments.tokens import SCOPES, DeploymentToken, DeploymentTokenService

__all__ = [
    "SCOPES",
    "STRATEGIES",
    "Deployment",
    "DeploymentService",
    "DeploymentToken",
    "DeploymentTokenService",
    "Route",
    "parse_route",
]
