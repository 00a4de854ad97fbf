"""Protected aliases hold against a lower role: an editor cannot create a model that leaves
the traffic policy's approved alias unprotected, nor move or remove a protected alias."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loopml.errors import ConflictError, PermissionDeniedError, ValidationError
from loopml.governance import list_events
from loopml.sdk import Client
from tests.registry.conftest import BikeData, train_version


@pytest.fixture
def editor(client: Client, make_client: Callable[..., Client], tmp_path: Path) -> Client:
    client.models.identity.create_principal("erin", "editor")
    return make_client(root=tmp_path / "ws", token=client.models.identity.create_token("erin"))


def test_an_editor_cannot_create_a_model_without_a_protected_champion(
    client: Client, editor: Client
) -> None:
    for unprotected in ((), ["staging"]):
        with pytest.raises(
            PermissionDeniedError,
            match=r"erin \(editor\) may not create model 'bikes' without protecting 'champion'",
        ):
            editor.models.registry.create_model("bikes", protected_aliases=unprotected)
    assert client.models.registry.list_models() == []
    assert not [e for e in list_events(client.stores.engine) if e.action == "model.create"]

    made = editor.models.registry.create_model("bikes")  # the default protects champion
    assert made.protected_aliases == ["champion"]
    more = editor.models.registry.create_model("trips", protected_aliases=["champion", "prod"])
    assert more.protected_aliases == ["champion", "prod"]


def test_an_admin_may_create_an_unprotected_model(client: Client) -> None:
    made = client.models.registry.create_model("scratch", protected_aliases=[])
    assert made.protected_aliases == []
    [event] = [e for e in list_events(client.stores.engine) if e.action == "model.create"]
    assert event.details == {"protected_aliases": []}  # the choice is audited


def test_the_floor_follows_the_workspace_policy(client: Client, editor: Client) -> None:
    client.deployments.policy.set({"approved_alias": "production"}, reason="our naming")
    assert editor.models.registry.create_model("bikes").protected_aliases == [
        "champion",
        "production",
    ]
    with pytest.raises(PermissionDeniedError, match="without protecting 'production'"):
        editor.models.registry.create_model("trips", protected_aliases=["champion"])


def test_an_editor_cannot_reuse_an_existing_name_to_drop_protection(
    client: Client, editor: Client
) -> None:
    client.models.registry.create_model("bikes")
    again = editor.models.registry.create_model("bikes", protected_aliases=[])
    assert again.protected_aliases == ["champion"]  # the existing model, as it was
    assert editor.models.model("bikes").protected_aliases == ["champion"]


def test_an_editor_cannot_move_or_remove_a_protected_alias(
    client: Client, editor: Client, bikes: BikeData
) -> None:
    version = train_version(editor, bikes)
    client.models.set_policy("bikes", {"independent_approvers": False})
    request = editor.models.request(version.uri)
    client.models.approvals.approve(request.id)
    assert editor.models.get("bikes@champion").version == 1
    with pytest.raises(ConflictError, match="protected: it moves only through an approval"):
        editor.models.registry.set_alias("bikes", "champion", 1)
    with pytest.raises(ConflictError, match="protected and cannot be removed"):
        editor.models.registry.delete_alias("bikes", "champion")
    with pytest.raises(ConflictError, match="still holds aliases"):
        editor.models.registry.set_state(version.uri, "ARCHIVED")
    assert editor.models.get("bikes@champion").version == 1


def test_protected_aliases_must_be_a_list(editor: Client) -> None:
    with pytest.raises(ValidationError, match="not one string"):
        editor.models.registry.create_model("bikes", protected_aliases="champion")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be 1-64 letters"):
        editor.models.registry.create_model("bikes", protected_aliases=["champion", "no way"])
