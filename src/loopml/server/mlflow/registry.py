"""MLflow's registry endpoints for aliases and lookups, over loopml's registry.

A protected alias (`champion` by default) is never moved by an MLflow call: setting it
opens a loopml approval request for that version, and the call is refused with a message
naming the request, which is what the MLflow client shows its user.
"""

from __future__ import annotations

from typing import Any

from loopml.errors import ValidationError
from loopml.registry.records import ModelVersion, RegisteredModel
from loopml.server.errors import ApiError
from loopml.server.mlflow.fields import Fields, text
from loopml.server.mlflow.ids import to_ms
from loopml.server.state import ServerState


def _version_number(fields: Fields) -> int:
    value = fields.get("version")
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value))
    except ValueError:
        raise ValidationError(f"version must be a version number, got {value!r}") from None


def model_version(version: ModelVersion) -> dict[str, Any]:
    created = to_ms(version.created_at)
    found: dict[str, Any] = {
        "name": version.model,
        "version": str(version.version),
        "creation_timestamp": created,
        "last_updated_timestamp": created,
        "user_id": version.created_by,
        "current_stage": "None",
        "description": version.description or "",
        "status": "READY",
        "aliases": list(version.aliases),
        "tags": [],
    }
    if version.run_id is not None:
        found["run_id"] = version.run_id
        found["source"] = f"runs:/{version.run_id}/{version.artifact_path}"
    return found


def registered_model(model: RegisteredModel) -> dict[str, Any]:
    created = to_ms(model.created_at)
    return {
        "name": model.name,
        "creation_timestamp": created,
        "last_updated_timestamp": created,
        "user_id": model.created_by,
        "description": model.description or "",
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
        "tags": [],
    }


def get_registered_model(state: ServerState, fields: Fields) -> Fields:
    model = state.client.models.registry.get_model(text(fields, "name"))
    return {"registered_model": registered_model(model)}


def get_model_version(state: ServerState, fields: Fields) -> Fields:
    ref = f"{text(fields, 'name')}/{_version_number(fields)}"
    return {"model_version": model_version(state.client.models.registry.get_version(ref))}


def get_by_alias(state: ServerState, fields: Fields) -> Fields:
    ref = f"{text(fields, 'name')}@{text(fields, 'alias')}"
    return {"model_version": model_version(state.client.models.registry.get_version(ref))}


def set_alias(state: ServerState, fields: Fields) -> Fields:
    """Point an alias at a version; a protected alias opens an approval request instead."""
    models = state.client.models
    name, alias, version = text(fields, "name"), text(fields, "alias"), _version_number(fields)
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
