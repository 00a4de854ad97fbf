"""Alias names, protection, and the audited moves in one transaction."""

from __future__ import annotations

import pytest

from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.governance.audit import list_events
from loopml.registry.aliases import (
    alias_target,
    aliases_of,
    check_alias,
    move_alias,
    refuse_protected,
    remove_alias,
)
from loopml.sdk import Client
from tests.registry.conftest import BikeData, train_version


@pytest.mark.parametrize("bad", ["", "3", "latest", "has space", "x" * 65, "é"])
def test_names_that_would_shadow_a_version_or_break_a_uri_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="must be 1-64 letters"):
        check_alias(bad)


def test_a_good_name_comes_back() -> None:
    assert check_alias("staging-2_b") == "staging-2_b"


def test_a_protected_alias_is_refused_with_the_fix() -> None:
    refuse_protected("bikes", "staging", ["champion"], ": use a request")  # allowed
    with pytest.raises(ConflictError, match="'champion' of bikes is protected: use a request"):
        refuse_protected("bikes", "champion", ["champion"], ": use a request")


def test_move_returns_the_previous_version_and_remove_needs_the_alias(
    client: Client, bikes: BikeData
) -> None:
    train_version(client, bikes)
    train_version(client, bikes)
    engine = client.models.registry.engine
    with engine.begin() as conn:
        assert move_alias(conn, "bikes", "staging", 1, "ana") is None
        assert move_alias(conn, "bikes", "staging", 2, "ana") == 1
        assert alias_target(conn, "bikes", "staging") == 2
        assert aliases_of(conn, "bikes") == {"staging": 2}
        remove_alias(conn, "bikes", "staging", "ana")
        assert alias_target(conn, "bikes", "staging") is None
        with pytest.raises(NotFoundError, match="has no alias 'staging'"):
            remove_alias(conn, "bikes", "staging", "ana")


def test_the_registry_removes_an_unprotected_alias_only(client: Client, bikes: BikeData) -> None:
    train_version(client, bikes)
    registry = client.models.registry
    registry.set_alias("bikes", "staging", 1)
    registry.delete_alias("bikes", "staging")
    assert registry.get_model("bikes").aliases == {}
    with pytest.raises(NotFoundError, match="has no alias 'staging'"):
        registry.delete_alias("bikes", "staging")
    with pytest.raises(ConflictError, match="'champion' of bikes is protected and cannot be"):
        registry.delete_alias("bikes", "champion")
    removed = list_events(registry.engine, "model:bikes@staging")
    assert [e.action for e in removed] == ["alias.move", "alias.delete"]
