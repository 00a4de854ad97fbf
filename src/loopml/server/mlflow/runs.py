"""MLflow's run endpoints over loopml's runs: the same services the native routes call,
so an MLflow run is a loopml run (params, metric series, tags, status, parent)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from loopml.errors import ValidationError
from loopml.server.mlflow import shapes
from loopml.server.mlflow.experiments import experiment_id, experiment_name
from loopml.server.mlflow.fields import (
    Fields,
    integer,
    key_values,
    optional_text,
    run_id,
    text,
)
from loopml.server.mlflow.filters import translate_filter, translate_order_by
from loopml.server.mlflow.ids import to_seconds
from loopml.server.mlflow.logged_models import drop_model_copies
from loopml.server.state import ServerState
from loopml.tracking.journal import Point
from loopml.tracking.records import RunRecord
from loopml.validation import check_key, check_metric_value, check_step

ENDED = ("FINISHED", "FAILED", "KILLED")
#: MLflow's run_view_type → loopml's run view (tracking/run_query.py).
_VIEWS = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}


def _run_document(state: ServerState, record: RunRecord) -> Fields:
    return shapes.run(record, experiment_id(state, record.experiment))


def create_run(state: ServerState, fields: Fields) -> Fields:
    """A RUNNING run; MLflow's `mlflow.parentRunId` tag becomes the run's parent."""
    tracking = state.client.tracking
    experiment = experiment_name(state, text(fields, "experiment_id", "0"))
    tags = key_values(fields, "tags")
    name = optional_text(fields, "run_name") or tags.get(shapes.NAME_TAG)
    parent = tags.get(shapes.PARENT_TAG)
    if parent is not None:
        parent = tracking.resolve_run_id(parent)
    if name is not None:
        tags[shapes.NAME_TAG] = name
    created = tracking.create_run(
        experiment,
        name,
        parent_id=parent,
        tags_=tags,
        capture=False,
        local_process=False,
    )
    return {"run": _run_document(state, tracking.get_run(created))}


def get_run(state: ServerState, fields: Fields) -> Fields:
    return {"run": _run_document(state, state.client.tracking.get_run(run_id(fields)))}


def update_run(state: ServerState, fields: Fields) -> Fields:
    """End the run when the status is a final one (ending an ended run changes nothing)."""
    tracking = state.client.tracking
    found = tracking.resolve_run_id(run_id(fields))
    status = optional_text(fields, "status")
    if status is not None and status not in (*ENDED, "RUNNING", "SCHEDULED"):
        raise ValidationError(f"status {status!r} is not one of RUNNING, {', '.join(ENDED)}")
    name = optional_text(fields, "run_name")
    if name is not None:
        current = tracking.get_run(found).name
        if name != current:
            raise ValidationError(
                f"loopml run names do not change: {found} is named {current!r}, not {name!r}"
            )
    if status in ENDED:
        tracking.streams.finish(found, status)
    record = tracking.get_run(found)
    return {"run_info": shapes.run_info(record, experiment_id(state, record.experiment))}


def _points(items: Any) -> list[Point]:
    """MLflow metrics as loopml points, each checked as `log_metric` checks it (a key is
    checked once per batch: a batch repeats a few keys many times)."""
    if not isinstance(items, list):
        raise ValidationError("metrics must be a list of {key, value, timestamp, step}")
    keys: set[str] = set()
    now = time.time()
    points: list[Point] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError("each metric must be an object with key, value, timestamp, step")
        raw_key = item.get("key")
        key: str = raw_key if raw_key in keys else check_key("metric", raw_key)
        keys.add(key)
        value = item.get("value")
        if type(value) is not float or not math.isfinite(value):
            value = check_metric_value(key, _number(value, key))
        step = item.get("step") or 0
        if type(step) is not int or step < 0:
            step = check_step(key, _integer(step, f"step of metric {key!r}"))
        stamp = item.get("timestamp")
        if type(stamp) is int and stamp >= 0:
            seconds = stamp / 1000.0
        else:
            seconds = now if stamp is None else to_seconds(stamp, f"timestamp of metric {key!r}")
        points.append((key, value, step, seconds))
    return points


def _integer(value: Any, what: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be an integer, got {value!r}") from None


def _number(value: Any, key: str) -> Any:
    """MLflow writes NaN and infinities as strings; loopml refuses them with a reason."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValidationError(f"metric {key!r} has value {value!r}, not a number") from None
    return value


def log_metric(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    found = tracking.resolve_run_id(run_id(fields))
    tracking.log_batch(found, _points([fields]), {}, {})
    return {}


def log_param(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    value = fields.get("value")
    tracking.log_params(
        tracking.resolve_run_id(run_id(fields)),
        {text(fields, "key"): "" if value is None else value},
    )
    return {}


def set_tag(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    value = fields.get("value")
    tracking.set_tags(
        tracking.resolve_run_id(run_id(fields)),
        {text(fields, "key"): "" if value is None else value},
    )
    return {}


def delete_tag(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    tracking.delete_tags(tracking.resolve_run_id(run_id(fields)), [text(fields, "key")])
    return {}


def log_batch(state: ServerState, fields: Fields) -> Fields:
    """Metrics, params and tags in one transaction."""
    tracking = state.client.tracking
    found = tracking.resolve_run_id(run_id(fields))
    points = _points(drop_model_copies(state, found, fields.get("metrics") or []))
    tracking.log_batch(found, points, key_values(fields, "params"), key_values(fields, "tags"))
    return {}


def log_inputs(state: ServerState, fields: Fields) -> Fields:
    """MLflow dataset inputs are kept as JSON artifacts of the run (`mlflow-inputs/`):
    loopml's own inputs are its dataset versions, which an MLflow dataset is not."""
    tracking = state.client.tracking
    found = tracking.resolve_run_id(run_id(fields))
    datasets = fields.get("datasets") or []
    if not isinstance(datasets, list):
        raise ValidationError("datasets must be a list of {dataset, tags} objects")
    for item in datasets:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            raise ValidationError("each dataset input needs a dataset with a name")
        digest = str(dataset.get("digest") or "nodigest")
        path = f"mlflow-inputs/{dataset['name']}-{digest}.json"
        data = json.dumps(item, sort_keys=True).encode()
        tracking.log_artifact_bytes(found, data, path, "application/json")
    return {}


def search_runs(state: ServerState, fields: Fields) -> Fields:
    """MLflow's filter and order_by, rewritten into loopml's search (filters.py)."""
    ids = fields.get("experiment_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError("experiment_ids must be a list of experiment ids")
    view = _VIEWS.get(str(fields.get("run_view_type") or "ACTIVE_ONLY"))
    if view is None:
        raise ValidationError(
            f"run_view_type {fields.get('run_view_type')!r} is not one of {', '.join(_VIEWS)}"
        )
    names = [experiment_name(state, i) for i in ids]
    orders = translate_order_by(fields.get("order_by"))  # none: newest first, as MLflow
    found = state.client.tracking.search_runs(
        names or None,
        translate_filter(optional_text(fields, "filter")),
        orders,
        integer(fields, "max_results", 1000),
        optional_text(fields, "page_token"),
        view=view,
    )
    answer: Fields = {"runs": [_run_document(state, r) for r in found]}
    if found.next_page_token:
        answer["next_page_token"] = found.next_page_token
    return answer


def metric_history(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    key = text(fields, "metric_key")
    points = tracking.metric_history(run_id(fields), key)
    return {"metrics": shapes.history(key, points)}


def delete_run(state: ServerState, fields: Fields) -> Fields:
    """Soft delete: the run leaves searches (ACTIVE_ONLY) and keeps all it holds."""
    tracking = state.client.tracking
    tracking.delete_run(tracking.resolve_run_id(run_id(fields)))
    return {}


def restore_run(state: ServerState, fields: Fields) -> Fields:
    """Bring a deleted run back into searches."""
    tracking = state.client.tracking
    tracking.restore_run(tracking.resolve_run_id(run_id(fields)))
    return {}
