"""Module-level functions (`loopml.start_run`, `loopml.log_metric`, …) on a default client.

The default client is remote when LOOPML_SERVER_URL is set (see connection.py): the
tracking and dataset functions work in both modes; features and pipelines need the local
one and say so otherwise. Each function has the signature of the client method it
forwards to (tests/sdk/test_signatures.py keeps them in step)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, overload

import pandas as pd

from loopml.data import DatasetDiff, DatasetVersion
from loopml.data.versions import TableLike
from loopml.errors import ValidationError
from loopml.features import HistoricalFeatures, TrainingSet
from loopml.pipelines.context import executing_client
from loopml.pipelines.definition import Pipeline
from loopml.sdk.client import Client
from loopml.sdk.connection import connect
from loopml.sdk.remote import RemoteClient, RemoteRun
from loopml.tracking import Run, RunList, RunRecord

_default: Client | RemoteClient | None = None
_lock = threading.Lock()


def client() -> Client | RemoteClient:
    """The client of the pipeline step executing now, else the process's default client
    (the server of LOOPML_SERVER_URL, or the workspace of the current folder):
    `loopml.load_dataset` in a step reads the workspace the pipeline runs on, and the
    step's cache sees the read."""
    global _default
    executing = executing_client()
    if isinstance(executing, Client):
        return executing
    with _lock:
        if _default is None:
            _default = connect()
        return _default


def local_client() -> Client:
    """The default client when it is local; a clear error in remote mode."""
    found = client()
    if isinstance(found, RemoteClient):
        raise ValidationError(
            f"this needs a local workspace, and the default client is remote ({found.url}); "
            "through a server, features and pipelines are not available yet: "
            "unset LOOPML_SERVER_URL, or use loopml.connect(PATH) for a workspace"
        )
    return found


def set_client(new: Client | RemoteClient | None) -> None:
    """Make `new` the default client (None: reconnect lazily on next use)."""
    global _default
    with _lock:
        _default = new


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """`@loopml.pipeline`: a pipeline whose `.run()` without a client uses `client()`."""
    if fn is not None:
        return Pipeline(fn, name=name, default_client=local_client)

    def decorate(inner: Callable[..., Any]) -> Pipeline:
        return Pipeline(inner, name=name, default_client=local_client)

    return decorate


def start_run(
    experiment: str = "default",
    name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    inputs: Iterable[DatasetVersion | str] | None = None,
    nested: bool = False,
    parent: Run | RemoteRun | str | None = None,
    capture_code: bool = True,
) -> Run | RemoteRun:
    found = client()
    if isinstance(found, RemoteClient):
        if isinstance(parent, Run):
            raise ValidationError("a remote run's parent is a remote run or a run id")
        return found.start_run(
            experiment,
            name,
            params=params,
            tags=tags,
            inputs=inputs,
            nested=nested,
            parent=parent,
            capture_code=capture_code,
        )
    if isinstance(parent, RemoteRun):
        raise ValidationError("a local run's parent is a local run or a run id")
    return found.start_run(
        experiment,
        name,
        params=params,
        tags=tags,
        inputs=inputs,
        nested=nested,
        parent=parent,
        capture_code=capture_code,
    )


def active_run() -> Run | RemoteRun | None:
    return client().active_run()


def _require_active() -> Run | RemoteRun:
    run = client().active_run()
    if run is None:
        raise ValidationError("no active run; wrap the code in `with loopml.start_run(...):`")
    return run


def log_param(key: str, value: Any) -> None:
    _require_active().log_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    _require_active().log_params(values)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _require_active().log_metric(key, value, step)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    _require_active().log_metrics(values, step)


def set_tag(key: str, value: Any) -> None:
    _require_active().set_tag(key, value)


def log_artifact(path: str | Path, name: str | None = None) -> list[str]:
    return _require_active().log_artifact(path, name)


def log_dataset(
    name: str,
    data: TableLike,
    *,
    time_column: str | None = None,
    parent: str | None = None,
    description: str | None = None,
) -> DatasetVersion:
    return client().log_dataset(
        name, data, time_column=time_column, parent=parent, description=description
    )


def load_dataset(ref: str | DatasetVersion, columns: list[str] | None = None) -> pd.DataFrame:
    return client().load_dataset(ref, columns)


def get_dataset(ref: str) -> DatasetVersion:
    return client().get_dataset(ref)


def diff_datasets(old: str | DatasetVersion, new: str | DatasetVersion) -> DatasetDiff:
    return client().diff_datasets(old, new)


def get_run(run_id: str) -> RunRecord:
    return client().get_run(run_id)


def search_runs(
    experiment: str | Iterable[str] | None = None,
    filter: str | None = None,
    order_by: Iterable[str] | str | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
) -> RunList:
    return client().search_runs(experiment, filter, order_by, max_results, page_token)


def get_historical_features(
    entity_df: Any, features: list[str] | str, **options: Any
) -> HistoricalFeatures:
    return local_client().get_historical_features(entity_df, features, **options)


def training_set(
    service: str,
    entities: Any,
    *,
    name: str | None = None,
    timestamp_column: str | None = None,
    description: str | None = None,
) -> TrainingSet:
    """`Client.training_set` on `client()`: in a pipeline step, the step's workspace, and
    the step's cache sees every dataset it read."""
    return local_client().training_set(
        service,
        entities,
        name=name,
        timestamp_column=timestamp_column,
        description=description,
    )


def get_online_features(
    entity_rows: list[dict[str, Any]], features: list[str] | str
) -> dict[str, list[Any]]:
    return local_client().get_online_features(entity_rows, features)
