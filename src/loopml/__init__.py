"""loopml: the whole machine-learning loop in one package."""

import importlib as _importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

from loopml.errors import (
    ArtifactCorruptedError,
    ConfigError,
    ConflictError,
    LoopmlError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from loopml.version import __version__ as __version__

if TYPE_CHECKING:
    from loopml.data import (
        DatasetDiff,
        DatasetVersion,
    )
    from loopml.pipelines import step
    from loopml.sdk.client import Client
    from loopml.sdk.connection import connect
    from loopml.sdk.fluent import (
        active_run,
        client,
        diff_datasets,
        get_dataset,
        get_historical_features,
        get_online_features,
        get_run,
        load_dataset,
        log_artifact,
        log_dataset,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        pipeline,
        search_runs,
        set_client,
        set_tag,
        start_run,
        training_set,
    )
    from loopml.sdk.remote import RemoteClient, RemoteRun
    from loopml.store.paging import Page
    from loopml.tracking import (
        MetricHistory,
        MetricPoint,
        Run,
        RunList,
        RunRecord,
    )

# The SDK pulls in pandas, pyarrow, DuckDB and SQLAlchemy; importing them only when a name
# is first used keeps `import loopml.artifacts` (and the CLI's --help) light.
_LAZY = {
    "DatasetDiff": "loopml.data",
    "DatasetVersion": "loopml.data",
    "pipeline": "loopml.sdk.fluent",
    "step": "loopml.pipelines",
    "Client": "loopml.sdk.client",
    "connect": "loopml.sdk.connection",
    "RemoteClient": "loopml.sdk.remote",
    "RemoteRun": "loopml.sdk.remote",
    "active_run": "loopml.sdk.fluent",
    "client": "loopml.sdk.fluent",
    "diff_datasets": "loopml.sdk.fluent",
    "get_dataset": "loopml.sdk.fluent",
    "get_historical_features": "loopml.sdk.fluent",
    "get_online_features": "loopml.sdk.fluent",
    "get_run": "loopml.sdk.fluent",
    "load_dataset": "loopml.sdk.fluent",
    "log_artifact": "loopml.sdk.fluent",
    "log_dataset": "loopml.sdk.fluent",
    "log_metric": "loopml.sdk.fluent",
    "log_metrics": "loopml.sdk.fluent",
    "log_param": "loopml.sdk.fluent",
    "log_params": "loopml.sdk.fluent",
    "search_runs": "loopml.sdk.fluent",
    "set_client": "loopml.sdk.fluent",
    "set_tag": "loopml.sdk.fluent",
    "start_run": "loopml.sdk.fluent",
    "training_set": "loopml.sdk.fluent",
    "MetricHistory": "loopml.tracking",
    "MetricPoint": "loopml.tracking",
    "Page": "loopml.store.paging",
    "Run": "loopml.tracking",
    "RunList": "loopml.tracking",
    "RunRecord": "loopml.tracking",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted((set(globals()) | set(_LAZY)) - {"TYPE_CHECKING"})


__all__ = [
    "ArtifactCorruptedError",
    "Client",
    "ConfigError",
    "ConflictError",
    "DatasetDiff",
    "DatasetVersion",
    "LoopmlError",
    "MetricHistory",
    "MetricPoint",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RemoteClient",
    "RemoteRun",
    "Run",
    "RunList",
    "RunRecord",
    "ValidationError",
    "active_run",
    "client",
    "connect",
    "diff_datasets",
    "get_dataset",
    "get_historical_features",
    "get_online_features",
    "get_run",
    "load_dataset",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "pipeline",
    "search_runs",
    "set_client",
    "set_tag",
    "start_run",
    "step",
    "training_set",
]
