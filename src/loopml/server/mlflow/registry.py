"""MLflow's registered-model and alias endpoints over loopml's registry.

A protected alias (`champion` by default) is never moved by an MLflow call: setting it
opens a loopml approval request for that version, and the call is refused with a message
naming the request, which is what the MLflow client shows its user. Registered models are
kept under their name (deployments, approvals and audit events name them): renaming and
deleting them is refused with the reason.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from loopml.errors import NotFoundError, ValidationError
from loopml.registry.notes import RegistryNotes
from loopml.registry.records import RegisteredModel
from loopml.server.errors import ApiError
from loopml.server.mlflow.fields import Fields, integer, optional_text, text
from loopml.server.mlflow.ids import to_ms
from loopml.server.mlflow.model_versions import model_version, version_number
from loopml.server.state import ServerState

_NAME_FILTER = re.compile(r"^\s*name\s+(=|LIKE|ILIKE)\s+'([^']*)'\s*$", re.IGNORECASE)
_NAME_EQUALS = re.compile(r"^\s*name\s*=\s*'([^']*)'\s*$", re.IGNORECASE)


def registered_model(state: ServerState, model: RegisteredModel) -> dict[str, Any]:
    created = to_ms(model.created_at)
    found: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": created,
        "last_updated_timestamp": created,
        "user_id": model.created_by,
        "description": model.description or "",
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
        "tags": [],
    }
    if model.latest_version is not None:
        latest = state.client.models.registry.get_version(f"{model.name}/{model.latest_version}")
        found["latest_versions"] = [model_version(latest)]
    return found


def create_registered_model(state: ServerState, fields: Fields) -> Fields:
    """A new registered model; RESOURCE_ALREADY_EXISTS when the name is taken (the client
    then goes on to create a version of it)."""
    name = text(fields, "name")
    if fields.get("tags"):
        raise ValidationError(
            "loopml keeps no tags on registered models; tag their versions instead "
            "(set_model_version_tag), or describe the model"
        )
    registry = state.client.models.registry
    try:
        registry.get_model(name)
    except NotFoundError:
        model = registry.create_model(name, description=optional_text(fields, "description"))
        return {"registered_model": registered_model(state, model)}
    raise ApiError(
        400,
        "already_exists",
        f"registered model {name!r} already exists",
        "create a version of it with create_model_version",
    )


def get_registered_model(state: ServerState, fields: Fields) -> Fields:
    model = state.client.models.registry.get_model(text(fields, "name"))
    return {"registered_model": registered_model(state, model)}


def update_registered_model(state: ServerState, fields: Fields) -> Fields:
    name = text(fields, "name")
    RegistryNotes(state.client.stores).describe_model(name, optional_text(fields, "description"))
    return {
        "registered_model": registered_model(state, state.client.models.registry.get_model(name))
    }


def search_registered_models(state: ServerState, fields: Fields) -> Fields:
    """Registered models by name (`name = 'x'`, `name LIKE 'x%'`), in name order."""
    wanted = _name_filter(optional_text(fields, "filter"))
    limit = integer(fields, "max_results", 100)
    if not 0 < limit <= 1000:
        raise ValidationError("max_results must be from 1 to 1000")
    registry = state.client.models.registry
    exact = _NAME_EQUALS.match(optional_text(fields, "filter") or "")
    if exact is not None:  # one lookup, not a listing
        try:
            models = [registry.get_model(exact.group(1))]
        except NotFoundError:
            models = []
    else:
        models = [m for m in registry.list_models() if wanted is None or wanted(m.name)]
    return {"registered_models": [registered_model(state, m) for m in models[:limit]]}


def _name_filter(given: str | None) -> Callable[[str], bool] | None:
    if given is None or not given.strip():
        return None
    found = _NAME_FILTER.match(given)
    if found is None:
        raise ValidationError(
            f"registered-model filter {given!r}: loopml filters registered models by name "
            "(name = 'x', name LIKE 'x%' or name ILIKE 'x%')"
        )
    op, value = found.group(1).upper(), found.group(2)
    if op == "=":
        return lambda name: name == value
    pattern = value.replace("%", "*").replace("_", "?")
    if op == "ILIKE":
        return lambda name: fnmatch.fnmatch(name.lower(), pattern.lower())
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def refuse_model_change(state: ServerState, fields: Fields) -> Fields:
    """Renaming, deleting and tagging registered models are refused with the reason."""
    model = state.client.models.registry.get_model(text(fields, "name"))
    raise ApiError(
        400,
        "invalid",
        f"loopml keeps registered model {model.name!r} as it is: models are not renamed or "
        "deleted (deployments, approvals and audit events name them) and carry no tags",
        "register under a new name, archive old versions (`loopml models state`), and "
        "tag versions (set_model_version_tag) or describe the model instead",
    )


def set_alias(state: ServerState, fields: Fields) -> Fields:
    """Point an alias at a version; a protected alias opens an approval request instead."""
    models = state.client.models
    name, alias, version = text(fields, "name"), text(fields, "alias"), version_number(fields)
    if alias in models.registry.get_model(name).protected_aliases:
        request = models.approvals.request(f"{name}/{version}", alias, reason="MLflow set-alias")
        raise ApiError(
            403,
            "approval_required",
            f"alias {alias!r} of {name} is protected and was not moved: approval request "
            f"{request.id} was opened to point it at version {version}",
            f"an approver decides it (`loopml models approve {request.id}`)",
        )
    models.registry.set_alias(name, alias, version)
    return {}


def delete_alias(state: ServerState, fields: Fields) -> Fields:
    state.client.models.registry.delete_alias(text(fields, "name"), text(fields, "alias"))
    return {}
