"""The notes people keep beside immutable versions: descriptions of models and versions,
and a version's tags (in its card, under `tags`). Each change is audited; the version's
files, signature and lineage never change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from loopml.errors import NotFoundError, ValidationError
from loopml.governance import append_event, require
from loopml.registry.records import ModelVersion
from loopml.registry.service import RegistryService
from loopml.store import Stores
from loopml.store.schema import model_versions, registered_models
from loopml.validation import check_key, check_text_value

MAX_DESCRIPTION = 20_000
TAGS = "tags"


def version_tags(version: ModelVersion) -> dict[str, str]:
    """A version's tags (kept in its card)."""
    found = version.card.get(TAGS)
    return dict(found) if isinstance(found, dict) else {}


class RegistryNotes:
    """Describe models and versions, and tag versions."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.registry = RegistryService(stores)

    def describe_model(self, name: str, description: str | None) -> None:
        require(self.stores.actor, "write", "describe registered models")
        text = _description(description)
        self.registry.get_model(name)
        with self.stores.engine.begin() as conn:
            conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(description=text)
            )
            append_event(conn, self.stores.actor, "model.describe", f"model:{name}")

    def describe_version(self, ref: str, description: str | None) -> ModelVersion:
        require(self.stores.actor, "write", "describe model versions")
        text = _description(description)
        version = self.registry.get_version(ref)
        with self.stores.engine.begin() as conn:
            conn.execute(
                update(model_versions)
                .where(model_versions.c.id == version.id)
                .values(description=text)
            )
            append_event(conn, self.stores.actor, "model.describe", version.uri)
        return self.registry.get_version(version.id)

    def set_version_tags(self, ref: str, tags: dict[str, Any]) -> ModelVersion:
        require(self.stores.actor, "write", "tag model versions")
        checked = check_tags(tags)
        version = self.registry.get_version(ref)
        return self._store_tags(version, {**version_tags(version), **checked}, checked)

    def delete_version_tag(self, ref: str, key: str) -> ModelVersion:
        require(self.stores.actor, "write", "untag model versions")
        version = self.registry.get_version(ref)
        tags = version_tags(version)
        if tags.pop(key, None) is None:
            raise NotFoundError(f"{version.uri} has no tag {key!r}")
        return self._store_tags(version, tags, {key: None})

    def _store_tags(
        self, version: ModelVersion, tags: dict[str, str], change: dict[str, Any]
    ) -> ModelVersion:
        card = {**version.card, TAGS: tags}
        with self.stores.engine.begin() as conn:
            conn.execute(
                update(model_versions).where(model_versions.c.id == version.id).values(card=card)
            )
            append_event(conn, self.stores.actor, "model.tag", version.uri, {"tags": change})
        return self.registry.get_version(version.id)


def _description(description: Any) -> str | None:
    if description is None or description == "":
        return None
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"a description is text of at most {MAX_DESCRIPTION} characters")
    return description


def check_tags(tags: dict[str, Any]) -> dict[str, str]:
    """Tags as they will be stored, each key and value checked as a run tag's is."""
    return {check_key("tag", k): check_text_value("tag", k, v) for k, v in tags.items()}
