"""MLflow's experiment endpoints over loopml's experiments (found or created by name).

MLflow's default experiment, id "0", is loopml's experiment named `Default`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from loopml.errors import NotFoundError, ValidationError
from loopml.server.errors import ApiError
from loopml.server.mlflow import shapes
from loopml.server.mlflow.fields import Fields, integer, key_values, optional_text, text
from loopml.server.state import ServerState

DEFAULT_ID = "0"
DEFAULT_NAME = "Default"


def experiment_name(state: ServerState, experiment_id: str) -> str:
    """The name of the experiment MLflow calls `experiment_id`."""
    if experiment_id == DEFAULT_ID:
        return DEFAULT_NAME
    return str(state.client.tracking.get_experiment(experiment_id)["name"])


def experiment_id(state: ServerState, name: str) -> str:
    """The id MLflow knows the experiment `name` by (cached by the service)."""
    return state.client.tracking.experiment_id(name, create=False)


def create_experiment(state: ServerState, fields: Fields) -> Fields:
    """A new experiment, with its tags; RESOURCE_ALREADY_EXISTS when the name is taken."""
    name = text(fields, "name")
    tags = key_values(fields, "tags")
    tracking = state.client.tracking
    try:
        tracking.experiment_id(name, create=False)
    except NotFoundError:
        created = tracking.experiment_id(name)
        tracking.set_experiment_tags(created, tags)
        return {"experiment_id": created}
    raise ApiError(
        400,
        "already_exists",
        f"experiment {name!r} already exists",
        "use mlflow.set_experiment(name), which finds it",
    )


def _document(state: ServerState, found: dict[str, Any]) -> Fields:
    return shapes.experiment(found, state.client.tracking.experiment_tags(found["id"]))


def _loopml_id(state: ServerState, experiment_id_: str) -> str:
    if experiment_id_ == DEFAULT_ID:
        return state.client.tracking.experiment_id(DEFAULT_NAME)
    return str(state.client.tracking.get_experiment(experiment_id_)["id"])


def get_experiment(state: ServerState, fields: Fields) -> Fields:
    found = _loopml_id(state, text(fields, "experiment_id"))
    return {"experiment": _document(state, state.client.tracking.get_experiment(found))}


def get_experiment_by_name(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    found = tracking.experiment_id(text(fields, "experiment_name"), create=False)
    return {"experiment": _document(state, tracking.get_experiment(found))}


def set_experiment_tag(state: ServerState, fields: Fields) -> Fields:
    """Set one tag of an experiment (MLflow's `set_experiment_tag`)."""
    found = _loopml_id(state, text(fields, "experiment_id"))
    value = fields.get("value")
    state.client.tracking.set_experiment_tags(
        found, {text(fields, "key"): "" if value is None else value}
    )
    return {}


def refuse_experiment_change(state: ServerState, fields: Fields) -> Fields:
    """Experiments are never renamed or removed in loopml (runs, model versions and audit
    events name them); the client is told what to do instead."""
    _loopml_id(state, text(fields, "experiment_id"))  # an unknown experiment says so first
    raise ApiError(
        400,
        "invalid",
        "loopml keeps experiments: they are not renamed, deleted or restored",
        "delete or restore the runs instead (mlflow.delete_run / MlflowClient.restore_run), "
        "or log to an experiment with another name",
    )


def search_experiments(state: ServerState, fields: Fields) -> Fields:
    """All experiments, newest first, optionally `name = '…'` or `name LIKE '…%'`."""
    wanted = _name_filter(optional_text(fields, "filter"))
    limit = integer(fields, "max_results", 1000)
    if not 0 < limit <= 50_000:
        raise ValidationError("max_results must be from 1 to 50000")
    found = [
        e for e in state.client.tracking.list_experiments() if wanted is None or wanted(e["name"])
    ]
    found.sort(key=lambda e: e["created_at"], reverse=True)
    return {"experiments": [_document(state, e) for e in found[:limit]]}


def _name_filter(text_: str | None) -> Callable[[str], bool] | None:
    if text_ is None or not text_.strip():
        return None
    head, op, value = _split_comparison(text_)
    if head.lower() not in ("name", "attribute.name", "attributes.name"):
        raise ValidationError(
            f"experiment filter {text_!r}: loopml's MLflow API filters experiments by name only "
            "(name = 'x' or name LIKE 'x%')"
        )
    if op == "=":
        return lambda name: name == value
    pattern = value.replace("%", "*").replace("_", "?")
    if op == "ILIKE":
        return lambda name: fnmatch.fnmatch(name.lower(), pattern.lower())
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def _split_comparison(text_: str) -> tuple[str, str, str]:
    for op in (" ILIKE ", " LIKE ", "="):
        head, sep, tail = text_.partition(op) if op == "=" else _partition_ci(text_, op)
        if sep:
            value = tail.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                return head.strip(), op.strip(), value[1:-1]
    raise ValidationError(f"cannot read experiment filter {text_!r}; write name = 'x'")


def _partition_ci(text_: str, op: str) -> tuple[str, str, str]:
    at = text_.upper().find(op)
    if at < 0:
        return text_, "", ""
    return text_[:at], op, text_[at + len(op) :]
