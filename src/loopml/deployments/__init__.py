"""Deployments: named endpoints routing traffic to model versions."""

from loopml.deployments.input_policy import EXTRA_COLUMNS, UNKNOWN_CATEGORIES, InputPolicy
from loopml.deployments.records import STRATEGIES, Deployment, Route, parse_route
from loopml.deployments.service import DeploymentService
from loopml.deployments.tokens import SCOPES, DeploymentToken, DeploymentTokenService

__all__ = [
    "EXTRA_COLUMNS",
    "SCOPES",
    "STRATEGIES",
    "UNKNOWN_CATEGORIES",
    "Deployment",
    "DeploymentService",
    "DeploymentToken",
    "DeploymentTokenService",
    "InputPolicy",
    "Route",
    "parse_route",
]
