"""Prometheus alerting rules for loopml's serving and control-plane metrics.

Thresholds are starting points a team tunes (`RuleThresholds`); every expression only
names metrics `names.py` lists, which the suite checks against live `/metrics` too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loopml.errors import ValidationError


@dataclass(frozen=True)
class RuleThresholds:
    """When each alert fires."""

    error_rate: float = 0.05  # share of a deployment's requests refused or failed
    p99_seconds: float = 0.5  # serving latency, 99th percentile
    queue_wait_p95_seconds: float = 0.1  # time waiting for a micro-batch
    server_error_rate: float = 0.01  # control plane 5xx share
    server_p99_seconds: float = 2.0
    monitor_overdue_seconds: float = 900.0
    webhook_backlog: int = 100
    approval_wait_hours: float = 24.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValidationError(f"threshold {name} must be a positive number, got {value!r}")


def _rule(
    alert: str, expr: str, for_: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "service": "loopml"},
        "annotations": {"summary": summary, "description": description},
    }


def alerting_rules(
    serving_job: str, server_job: str, t: RuleThresholds | None = None
) -> dict[str, Any]:
    """The rule file's content: a serving group and a control-plane group."""
    t = t or RuleThresholds()
    answered = "sum by (deployment) (rate(loopml_serving_requests_total[5m]))"
    failed = "sum by (deployment) (rate(loopml_serving_errors_total[5m]))"
    serving = [
        _rule(
            "LoopmlServingDown",
            f'up{{job="{serving_job}"}} == 0',
            "2m",
            "critical",
            "loopml serve is not answering scrapes",
            "{{ $labels.instance }} has been unreachable for 2 minutes.",
        ),
        _rule(
            "LoopmlServingHighErrorRate",
            f"{failed} / ({answered} + {failed}) > {t.error_rate:g}",
            "5m",
            "critical",
            "Deployment {{ $labels.deployment }} fails requests",
            f"More than {t.error_rate:.0%} of requests were refused or failed over 5 minutes "
            "(value {{ $value | humanizePercentage }}).",
        ),
        _rule(
            "LoopmlServingSlowP99",
            "histogram_quantile(0.99, sum by (deployment, le) "
            f"(rate(loopml_serving_request_seconds_bucket[5m]))) > {t.p99_seconds:g}",
            "10m",
            "warning",
            "Deployment {{ $labels.deployment }} is slow",
            f"The 99th percentile latency has been above {t.p99_seconds:g} s for 10 minutes "
            "(value {{ $value | humanizeDuration }}).",
        ),
        _rule(
            "LoopmlServingQueueing",
            "histogram_quantile(0.95, sum by (model, le) "
            f"(rate(loopml_serving_queue_wait_seconds_bucket[5m]))) > {t.queue_wait_p95_seconds:g}",
            "10m",
            "warning",
            "Requests for {{ $labels.model }} wait for a batch",
            "The 95th percentile wait for a micro-batch is high: the workers are saturated.",
        ),
        _rule(
            "LoopmlPredictionLogFailing",
            "increase(loopml_serving_log_errors_total[5m]) > 0",
            "0m",
            "critical",
            "Predictions are not reaching the prediction log",
            "Monitoring, feedback and rollouts read the log: fix the log's storage.",
        ),
        _rule(
            "LoopmlModelLoadFailing",
            "increase(loopml_serving_watcher_errors_total[10m]) > 0",
            "10m",
            "warning",
            "loopml serve cannot load new routes",
            "Route polls or model loads fail; the previous routes stay in service.",
        ),
        _rule(
            "LoopmlShadowDropped",
            "sum by (deployment, model) "
            '(rate(loopml_serving_shadow_total{outcome!="scored"}[10m])) > 0',
            "15m",
            "info",
            "Shadow scoring of {{ $labels.model }} drops or fails requests",
            "The shadow comparison sees fewer requests than the deployment answers.",
        ),
    ]
    control = [
        _rule(
            "LoopmlServerDown",
            f'up{{job="{server_job}"}} == 0',
            "2m",
            "critical",
            "loopml server is not answering scrapes",
            "{{ $labels.instance }} has been unreachable for 2 minutes.",
        ),
        _rule(
            "LoopmlServerErrors",
            'sum(rate(loopml_server_requests_total{status=~"5.."}[5m])) / '
            f"sum(rate(loopml_server_requests_total[5m])) > {t.server_error_rate:g}",
            "5m",
            "warning",
            "loopml server answers with errors",
            f"More than {t.server_error_rate:.0%} of API requests end in a 5xx.",
        ),
        _rule(
            "LoopmlServerSlowP99",
            "histogram_quantile(0.99, sum by (le) "
            f"(rate(loopml_server_request_seconds_bucket[5m]))) > {t.server_p99_seconds:g}",
            "10m",
            "warning",
            "loopml server is slow",
            f"The API's 99th percentile latency is above {t.server_p99_seconds:g} s.",
        ),
        _rule(
            "LoopmlCriticalAlertOpen",
            'sum by (monitor) (loopml_alerts_open{severity="critical"}) > 0',
            "0m",
            "critical",
            "Monitor {{ $labels.monitor }} has a critical alert open",
            "See `loopml monitor alerts {{ $labels.monitor }}`.",
        ),
        _rule(
            "LoopmlAlertOpen",
            'sum by (monitor) (loopml_alerts_open{severity="warning"}) > 0',
            "30m",
            "warning",
            "Monitor {{ $labels.monitor }} has had a warning open for 30 minutes",
            "See `loopml monitor alerts {{ $labels.monitor }}`.",
        ),
        _rule(
            "LoopmlMonitorOverdue",
            f"max by (monitor) (loopml_monitor_overdue_seconds) > {t.monitor_overdue_seconds:g}",
            "5m",
            "warning",
            "Monitor {{ $labels.monitor }} is not being run",
            "Its next window is overdue: is a controller (`loopml controller` or "
            "`loopml server`) running?",
        ),
        _rule(
            "LoopmlRolloutAwaitingApproval",
            'max by (deployment) (loopml_rollouts_active{state="awaiting_approval"}) > 0',
            f"{t.approval_wait_hours:g}h",
            "info",
            "The rollout on {{ $labels.deployment }} waits for an approval",
            "Decide the champion request (`loopml models approvals`).",
        ),
        _rule(
            "LoopmlWebhookDeadLetters",
            'sum by (webhook) (loopml_webhook_deliveries{state="dead"}) > 0',
            "0m",
            "warning",
            "Webhook {{ $labels.webhook }} has dead letters",
            "Fix the receiver, then `loopml webhook redeliver DELIVERY_ID`.",
        ),
        _rule(
            "LoopmlWebhookBacklog",
            'sum by (webhook) (loopml_webhook_deliveries{state="pending"}) '
            f"> {t.webhook_backlog}",
            "15m",
            "warning",
            "Webhook {{ $labels.webhook }} is falling behind",
            "Events wait for delivery: the receiver is down or slow.",
        ),
    ]
    return {
        "groups": [
            {"name": "loopml-serving", "rules": serving},
            {"name": "loopml-control-plane", "rules": control},
        ]
    }


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for nested dicts, lists and scalars (strings double-quoted, so
    PromQL braces and colons need no thought)."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            text = (
                to_yaml(item, indent + 2)
                if isinstance(item, dict | list)
                else pad + "  " + _scalar(item)
            )
            lines.append(f"{pad}- {text.lstrip()}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value), ensure_ascii=False)
