"""The model registry: packaged models, versions, aliases, approvals, lineage, cards."""

from loopml.registry.approvals import ApprovalService
from loopml.registry.card_data import card_data
from loopml.registry.cards import render_html, render_markdown
from loopml.registry.evaluation import EvaluationService
from loopml.registry.lineage import format_lineage, lineage
from loopml.registry.packaging import LoadedModel, Signature, load_model, save_model
from loopml.registry.policy import Policy, parse_policy
from loopml.registry.records import ApprovalRequest, Decision, ModelVersion, RegisteredModel
from loopml.registry.service import RegistryService

__all__ = [
    "ApprovalRequest",
    "ApprovalService",
    "Decision",
    "EvaluationService",
    "LoadedModel",
    "ModelVersion",
    "Policy",
    "RegisteredModel",
    "RegistryService",
    "Signature",
    "card_data",
    "format_lineage",
    "lineage",
    "load_model",
    "parse_policy",
    "render_html",
    "render_markdown",
    "save_model",
]
