"""For SRE teams: Prometheus alerting rules and a Grafana dashboard for loopml's metrics."""

from loopml.ops.dashboard import dashboard, expressions
from loopml.ops.export import DASHBOARD_FILE, RULES_FILE, OpsFiles, export_ops
from loopml.ops.names import server_names, serving_names
from loopml.ops.rules import RuleThresholds, alerting_rules

__all__ = [
    "DASHBOARD_FILE",
    "RULES_FILE",
    "OpsFiles",
    "RuleThresholds",
    "alerting_rules",
    "dashboard",
    "export_ops",
    "expressions",
    "server_names",
    "serving_names",
]
