"""Module-level functions (`loopml.start_run`, `loopml.log_metric`, …) on a default client."""

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
from loopml.sdk.client import Client, connect
from loopml.tracking import Run, RunList, RunRecord

_default: Client | None = None
_lock = threading.Lock()


def client() -> Client:
    """The client of the pipeline step executing now, else the process's default client
    (the workspace of the current folder): `loopml.load_dataset` in a step reads the
    workspace the pipeline runs on, and the step's cache sees the read."""
    global _default
    executing = executing_client()
    if isinstance(executing, Client):
        return executing
    with _lock:
        if _default is None:
            _default = connect()
        return _default


def set_client(new: Client | None) -> None:
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
        return Pipeline(fn, name=name, default_client=client)

    def decorate(inner: Callable[..., Any]) -> Pipeline:
        return Pipeline(inner, name=name, default_client=client)

    return decorate


def start_run(
    experiment: str = "default",
    name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    inputs: Iterable[DatasetVersion | str] | None = None,
    nested: bool = False,
    capture_code: bool = True,
) -> Run:
    return client().start_run(
        experiment,
        name,
        params=params,
        tags=tags,
        inputs=inputs,
        nested=nested,
        capture_code=capture_code,
    )


def active_run() -> Run | None:
    return client().active_run()


def _require_active() -> Run:
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
    return client().get_historical_features(entity_df, features, **options)


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
    return client().training_set(
        service,
        entities,
        name=name,
        timestamp_column=timestamp_column,
        description=description,
    )


def get_online_features(
    entity_rows: list[dict[str, Any]], features: list[str] | str
) -> dict[str, list[Any]]:
    return client().get_online_features(entity_rows, features)
