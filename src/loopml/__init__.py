"""loopml: the whole machine-learning loop in one package."""

from loopml.data import DatasetDiff, DatasetVersion
from loopml.errors import (
    ArtifactCorruptedError,
    ConfigError,
    ConflictError,
    LoopmlError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from loopml.sdk import Client, connect
from loopml.sdk.fluent import (
    active_run,
    client,
    diff_datasets,
    get_dataset,
    get_run,
    load_dataset,
    log_artifact,
    log_dataset,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    search_runs,
    set_client,
    set_tag,
    start_run,
)
from loopml.tracking import MetricPoint, Run, RunList, RunRecord

__version__ = "0.1.0"

__all__ = [
    "ArtifactCorruptedError",
    "Client",
    "ConfigError",
    "ConflictError",
    "DatasetDiff",
    "DatasetVersion",
    "LoopmlError",
    "MetricPoint",
    "NotFoundError",
    "PermissionDeniedError",
    "Run",
    "RunList",
    "RunRecord",
    "ValidationError",
    "active_run",
    "client",
    "connect",
    "diff_datasets",
    "get_dataset",
    "get_run",
    "load_dataset",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "search_runs",
    "set_client",
    "set_tag",
    "start_run",
]
