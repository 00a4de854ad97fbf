"""Experiment tracking: runs with params, metric series, tags, artifacts and inputs."""

from loopml.tracking.records import MetricPoint, RunList, RunRecord
from loopml.tracking.run import Run
from loopml.tracking.series import MetricHistory
from loopml.tracking.service import TrackingService

__all__ = ["MetricHistory", "MetricPoint", "Run", "RunList", "RunRecord", "TrackingService"]
