"""A trigger declared by a higher role is not undone by a lower one: an editor cannot
disable, re-enable or delete the retraining an admin declared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loopml.errors import PermissionDeniedError
from loopml.governance import list_events
from loopml.pipelines.catalog import PipelineCatalog
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, frame

PIPELINE = f"{PIPELINES}:record"


PEOPLE = (("ann", "approver"), ("erin", "editor"), ("ed", "editor"), ("vic", "viewer"))


@pytest.fixture
def people(
    bikes_v1: Client, make_client: Callable[..., Client], tmp_path: Path
) -> dict[str, Client]:
    """The local admin (bikes_v1), an approver, two editors and a viewer, by token; the
    test pipeline is registered, so editors may declare triggers for it."""
    PipelineCatalog(bikes_v1.stores).register("record", PIPELINE)
    logins = {"admin": bikes_v1}
    for name, role in PEOPLE:
        bikes_v1.models.identity.create_principal(name, role)
        token = bikes_v1.models.identity.create_token(name, label="tests")
        logins[name] = make_client(root=tmp_path / "ws", token=token)
    return logins


def test_the_creators_role_is_recorded(people: dict[str, Client]) -> None:
    made = people["admin"].triggers.create("guard", "dataset:bikes", PIPELINE)
    assert made.created_role == "admin" and made.to_dict()["created_role"] == "admin"
    mine = people["erin"].triggers.create("mine", "dataset:bikes", PIPELINE)
    assert (mine.created_by, mine.created_role) == ("erin", "editor")
    assert people["vic"].triggers.get("mine").created_role == "editor"


def test_an_editor_cannot_undo_an_admins_trigger(people: dict[str, Client]) -> None:
    admin, erin = people["admin"], people["erin"]
    admin.triggers.create("guard", "dataset:bikes", PIPELINE)
    admin.triggers.disable("guard")
    before = (admin.triggers.get("guard"), len(list_events(admin.stores.engine)))
    for what, attack in (
        ("delete", lambda: erin.triggers.delete("guard")),
        ("enable", lambda: erin.triggers.enable("guard")),
    ):
        with pytest.raises(
            PermissionDeniedError,
            match=rf"erin \(editor\) may not {what} trigger 'guard'.*created by .* as admin",
        ):
            attack()
    assert (admin.triggers.get("guard"), len(list_events(admin.stores.engine))) == before

    admin.triggers.enable("guard")
    for what, attack in (
        ("disable", lambda: erin.triggers.disable("guard")),
        ("delete", lambda: people["ann"].triggers.delete("guard")),  # approver < admin
    ):
        with pytest.raises(PermissionDeniedError, match=f"may not {what} trigger 'guard'"):
            attack()
    assert admin.triggers.get("guard").enabled
    # still firing: the admin's trigger records the next version
    admin.log_dataset("bikes", frame(2))
    assert [e.trigger for e in admin.triggers.evaluate()] == ["guard"]


def test_same_or_higher_roles_may_manage_a_trigger(people: dict[str, Client]) -> None:
    people["erin"].triggers.create("mine", "dataset:bikes", PIPELINE)
    assert not people["ed"].triggers.disable("mine").enabled  # another editor
    assert people["erin"].triggers.enable("mine").enabled
    people["admin"].triggers.delete("mine")  # an admin may do anything
    assert people["admin"].triggers.list() == []
    with pytest.raises(PermissionDeniedError, match="editor role"):
        people["vic"].triggers.create("view", "dataset:bikes", PIPELINE)
