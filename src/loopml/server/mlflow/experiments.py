"""MLflow's experiment endpoints over loopml's experiments (found or created by name).

MLflow's default experiment, id "0", is loopml's experiment named `Default`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from loopml.errors import NotFoundError, ValidationError
from loopml.server.errors import ApiError
from loopml.server.mlflow import shapes
from loopml.server.mlflow.fields import Fields, integer, optional_text, text
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
    """A new experiment; RESOURCE_ALREADY_EXISTS when the name is taken."""
    name = text(fields, "name")
    if fields.get("tags"):
        raise ValidationError(
            "loopml does not store experiment tags; create the experiment without tags "
            "and tag its runs instead"
        )
    tracking = state.client.tracking
    try:
        tracking.experiment_id(name, create=False)
    except NotFoundError:
        return {"experiment_id": tracking.experiment_id(name)}
    raise ApiError(
        400,
        "already_exists",
        f"experiment {name!r} already exists",
        "use mlflow.set_experiment(name), which finds it",
    )


def get_experiment(state: ServerState, fields: Fields) -> Fields:
    found = text(fields, "experiment_id")
    tracking = state.client.tracking
    if found == DEFAULT_ID:
        found = tracking.experiment_id(DEFAULT_NAME)
    return {"experiment": shapes.experiment(tracking.get_experiment(found))}


def get_experiment_by_name(state: ServerState, fields: Fields) -> Fields:
    tracking = state.client.tracking
    found = tracking.experiment_id(text(fields, "experiment_name"), create=False)
    return {"experiment": shapes.experiment(tracking.get_experiment(found))}


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
    return {"experiments": [shapes.experiment(e) for e in found[:limit]]}


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
