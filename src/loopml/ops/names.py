"""The metric names loopml exposes on `/metrics`, read from the collectors themselves, so
the rules and the dashboard can be checked against what really exists."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from loopml.server.metrics import ServerMetrics
from loopml.server.store_metrics import STORE_GAUGES
from loopml.serving.metrics import ServingMetrics

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "summary": ("", "_sum", "_count", "_created"),
}


def _sample_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def serving_names() -> set[str]:
    """Sample names of `loopml serve`'s `/metrics`."""
    return _sample_names(ServingMetrics().registry)


def server_names() -> set[str]:
    """Sample names of `loopml server`'s `/metrics` (requests, and the store's gauges)."""
    return _sample_names(ServerMetrics().registry) | set(STORE_GAUGES)
