"""MLflow's run endpoints over loopml's runs: the same services the native routes call,
so an MLflow run is a loopml run (params, metric series, tags, status, parent)."""

from __future__ import annotations

import json
from collections.abc import Callable

from loopml.errors import NotFoundError, ValidationError
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
from loopml.server.mlflow.logged_models import drop_model_copies
from loopml.server.mlflow.points import linked_to_models, to_points
from loopml.server.state import ServerState
from loopml.tracking.records import RunRecord
from loopml.tracking.service import TrackingService

ENDED = ("FINISHED", "FAILED", "KILLED")
RUN_PREFIX = "run-"  # how every full run id starts (store/ids.py)
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


def on_run(tracking: TrackingService, typed: str, write: Callable[[str], None]) -> None:
    """`write` to the run that `typed` names.

    The stock client sends the full run id it was given, so that id is written to as it
    is, without a lookup first: the store refuses a write to a run that does not exist
    (NotFoundError, through its foreign keys). Only then, or for an id spelled another way
    (`run:…`, bare digits), is it resolved as loopml resolves ids (a unique start of one),
    and the write made on the run found. A write that nothing would be written by (an
    empty batch) must not go this way: it would not find out that the run is missing."""
    if typed.startswith(RUN_PREFIX):
        try:
            write(typed)
            return
        except NotFoundError:
            found = tracking.resolve_run_id(typed)  # NotFoundError naming `typed` again
            if found == typed:
                raise
    else:
        found = tracking.resolve_run_id(typed)
    write(found)


def log_metric(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    points = to_points([fields])
    on_run(tracking, run_id(fields), lambda found: tracking.log_batch(found, points, {}, {}))
    return {}


def log_param(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    value = fields.get("value")
    values = {text(fields, "key"): "" if value is None else value}
    on_run(tracking, run_id(fields), lambda found: tracking.log_params(found, values))
    return {}


def set_tag(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    value = fields.get("value")
    values = {text(fields, "key"): "" if value is None else value}
    on_run(tracking, run_id(fields), lambda found: tracking.set_tags(found, values))
    return {}


def delete_tag(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    tracking.delete_tags(tracking.resolve_run_id(run_id(fields)), [text(fields, "key")])
    return {}


def log_batch(state: ServerState, fields: Fields) -> Fields:
    """Metrics, params and tags in one transaction."""
    tracking = state.client.tracking
    typed = run_id(fields)
    items = fields.get("metrics") or []
    params, tags = key_values(fields, "params"), key_values(fields, "tags")
    if not (items or params or tags):  # nothing to write; the run must exist all the same
        tracking.resolve_run_id(typed)
    elif linked_to_models(items):  # copies to drop are found in the run's histories
        found = tracking.resolve_run_id(typed)
        tracking.log_batch(found, to_points(drop_model_copies(state, found, items)), params, tags)
    else:
        points = to_points(items)
        on_run(tracking, typed, lambda found: tracking.log_batch(found, points, params, tags))
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
