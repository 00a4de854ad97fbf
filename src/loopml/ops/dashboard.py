"""A Grafana dashboard (JSON model) for loopml: serving traffic, errors, latency, batching,
shadows and the loop's state (alerts, monitors, rollouts, webhooks)."""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
DEPLOYMENT = '{deployment=~"$deployment"}'


def _rate(metric: str, by: str, selector: str = DEPLOYMENT) -> str:
    return f"sum by ({by}) (rate({metric}{selector}[$__rate_interval]))"


# (title, unit, [(expr, legend)]) — panels in order, two to a row
_SERVING: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Requests per second",
        "reqps",
        [
            (
                _rate("loopml_serving_requests_total", "deployment, model"),
                "{{deployment}} {{model}}",
            )
        ],
    ),
    (
        "Error rate",
        "percentunit",
        [
            (
                f"{_rate('loopml_serving_errors_total', 'deployment')} / "
                f"({_rate('loopml_serving_requests_total', 'deployment')} + "
                f"{_rate('loopml_serving_errors_total', 'deployment')})",
                "{{deployment}}",
            )
        ],
    ),
    (
        "Latency p50 / p99",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (deployment, le) "
                f"(rate(loopml_serving_request_seconds_bucket{DEPLOYMENT}[$__rate_interval])))",
                f"{{{{deployment}}}} p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
    ),
    (
        "Errors by status",
        "reqps",
        [
            (
                _rate("loopml_serving_errors_total", "deployment, status"),
                "{{deployment}} {{status}}",
            )
        ],
    ),
    (
        "Rows per batch (mean) and queue wait p95",
        "short",
        [
            (
                "sum by (model) (rate(loopml_serving_batch_rows_sum[$__rate_interval])) / "
                "sum by (model) (rate(loopml_serving_batch_rows_count[$__rate_interval]))",
                "{{model}} rows/batch",
            ),
            (
                "histogram_quantile(0.95, sum by (model, le) "
                "(rate(loopml_serving_queue_wait_seconds_bucket[$__rate_interval])))",
                "{{model}} wait p95 (s)",
            ),
        ],
    ),
    (
        "Shadow scorings by outcome",
        "reqps",
        [
            (
                _rate("loopml_serving_shadow_total", "model, outcome"),
                "{{model}} {{outcome}}",
            )
        ],
    ),
    (
        "Route revisions, swaps and loaded models",
        "short",
        [
            (
                f"max by (deployment) (loopml_serving_deployment_revision{DEPLOYMENT})",
                "{{deployment}} revision",
            ),
            (
                f"sum by (deployment) (increase(loopml_serving_swaps_total{DEPLOYMENT}[1h]))",
                "{{deployment}} swaps/h",
            ),
            ("sum(loopml_serving_loaded_models)", "models loaded"),
        ],
    ),
    (
        "Log and watcher errors",
        "short",
        [
            ("sum(increase(loopml_serving_log_errors_total[5m]))", "log errors /5m"),
            ("sum(increase(loopml_serving_watcher_errors_total[5m]))", "watcher errors /5m"),
        ],
    ),
]
_LOOP: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Open alerts",
        "short",
        [("sum by (monitor, severity) (loopml_alerts_open)", "{{monitor}} {{severity}}")],
    ),
    (
        "Monitors overdue",
        "s",
        [("max by (monitor) (loopml_monitor_overdue_seconds)", "{{monitor}}")],
    ),
    (
        "Active rollouts",
        "short",
        [("sum by (deployment, state) (loopml_rollouts_active)", "{{deployment}} {{state}}")],
    ),
    (
        "Webhook deliveries",
        "short",
        [("sum by (webhook, state) (loopml_webhook_deliveries)", "{{webhook}} {{state}}")],
    ),
    (
        "Control plane requests",
        "reqps",
        [
            (
                "sum by (status) (rate(loopml_server_requests_total[$__rate_interval]))",
                "{{status}}",
            ),
            ("sum(rate(loopml_server_metric_points_total[$__rate_interval]))", "metric points/s"),
        ],
    ),
    (
        "Control plane latency p99",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (route, le) "
                "(rate(loopml_server_request_seconds_bucket[$__rate_interval])))",
                "{{route}}",
            )
        ],
    ),
]


def dashboard(title: str = "loopml") -> dict[str, Any]:
    """The dashboard's JSON model, for Grafana's import (a `datasource` variable picks the
    Prometheus; `deployment` filters the serving panels)."""
    panels: list[dict[str, Any]] = []
    y = 0
    for section, specs in (("Serving", _SERVING), ("The loop", _LOOP)):
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": section,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for i, (name, unit, queries) in enumerate(specs):
            panels.append(
                _panel(len(panels) + 1, name, unit, queries, x=12 * (i % 2), y=y + 8 * (i // 2))
            )
        y += 8 * ((len(specs) + 1) // 2)
    return {
        "uid": "loopml-overview",
        "title": title,
        "tags": ["loopml", "mlops"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                },
                {
                    "name": "deployment",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": "label_values(loopml_serving_requests_total, deployment)",
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "current": {"text": "All", "value": "$__all"},
                    "allValue": ".*",
                },
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def _panel(
    panel_id: int, title: str, unit: str, queries: list[tuple[str, str]], *, x: int, y: int
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": DATASOURCE,
            }
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def expressions(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard model (panels, then variables)."""
    found = [
        target["expr"]
        for panel in model.get("panels", [])
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    found += [
        v["query"] for v in model.get("templating", {}).get("list", []) if v.get("type") == "query"
    ]
    return found
