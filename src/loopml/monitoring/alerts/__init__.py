"""Alerts: rules over window results, the alerts they open and resolve, and where they go."""

from loopml.monitoring.alerts.rules import AlertRule, Condition, evaluate_rules
from loopml.monitoring.alerts.service import Alert, AlertChanges, AlertService, open_key, parse_rule
from loopml.monitoring.alerts.sinks import AlertEvent, AlertSink, LogSink, WebhookSink

__all__ = [
    "Alert",
    "AlertChanges",
    "AlertEvent",
    "AlertRule",
    "AlertService",
    "AlertSink",
    "Condition",
    "LogSink",
    "WebhookSink",
    "evaluate_rules",
    "open_key",
    "parse_rule",
]
