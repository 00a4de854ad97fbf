"""Monitoring: drift of a window against reference data, model performance, latency."""

from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.monitoring.results import (
    ColumnDrift,
    DriftResult,
    Histogram,
    LatencyResult,
    PerformanceResult,
)

__all__ = [
    "ColumnDrift",
    "DriftOptions",
    "DriftResult",
    "Histogram",
    "LatencyResult",
    "PerformanceResult",
    "check_drift",
]
