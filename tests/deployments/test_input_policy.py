"""A deployment's input policy: set at creation, changed as a revision, validated, audited."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.deployments import InputPolicy, Route
from loopml.errors import ValidationError
from loopml.governance import list_events, verify_chain
from loopml.sdk import Client
from loopml.store.schema import deployments
from tests.deployments.conftest import Register

NAME = "bikes-api"


def _events(client: Client) -> list[Any]:
    return list_events(client.stores.engine, obj=f"deployment:{NAME}")


def test_the_default_policy_refuses_both(client: Client, register: Register) -> None:
    register(client)
    created = client.deployments.create(NAME, "bikes/1")
    assert created.input_policy == InputPolicy("error", "error")
    assert created.input_policy.strict
    assert _events(client)[-1].details["inputs"] == {
        "unknown_categories": "error",
        "extra_columns": "error",
    }


def test_a_settings_change_is_a_revision_that_keeps_the_routing(
    any_client: Client, register: Register
) -> None:
    register(any_client, 2)
    any_client.deployments.create(NAME, "bikes/1", unknown_categories="flag")
    split = any_client.deployments.update(NAME, [Route("bikes", 1, 80), Route("bikes", 2, 20)])
    assert split.input_policy.unknown_categories == "flag"  # a routing change keeps it
    changed = any_client.deployments.update(
        NAME, extra_columns="ignore", reason="clients send whole rows"
    )
    assert changed.revision == split.revision + 1
    assert (changed.routes, changed.strategy) == (split.routes, "canary")
    assert changed.previous_routes == split.previous_routes  # not a rollback point
    assert changed.input_policy == InputPolicy("flag", "ignore")
    assert changed.config == {"unknown_categories": "flag", "extra_columns": "ignore"}
    assert any_client.deployments.get(NAME) == changed
    assert any_client.deployments.revisions() == {NAME: changed.revision}
    event = _events(any_client)[-1]
    assert event.details["inputs"] == {"unknown_categories": "flag", "extra_columns": "ignore"}
    assert event.details["reason"] == "clients send whole rows"
    assert any_client.deployments.history(NAME)[-1]["revision"] == changed.revision
    assert any_client.deployments.rollback(NAME).input_policy.extra_columns == "ignore"
    assert verify_chain(any_client.stores.engine).ok


def test_bad_settings_are_refused_and_change_nothing(client: Client, register: Register) -> None:
    register(client)
    with pytest.raises(ValidationError, match=r"unknown_categories 'warn' is not a choice.*flag"):
        client.deployments.create(NAME, "bikes/1", unknown_categories="warn")
    with pytest.raises(ValidationError, match=r"extra_columns 'drop' .*ignore"):
        client.deployments.create(NAME, "bikes/1", config={"extra_columns": "drop"})
    assert client.deployments.list() == []
    client.deployments.create(NAME, "bikes/1")
    before = client.deployments.get(NAME)
    with pytest.raises(ValidationError, match="extra_columns True is not a choice"):
        client.deployments.update(NAME, extra_columns=True)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="nothing to change"):
        client.deployments.update(NAME)
    assert client.deployments.get(NAME) == before
    assert len(_events(client)) == 1


def test_an_edited_row_with_a_bad_setting_fails_loudly_rather_than_serving_loosely(
    client: Client, register: Register
) -> None:
    """A setting typed into the database directly is not silently read as a default."""
    register(client)
    client.deployments.create(NAME, "bikes/1")
    with client.stores.engine.begin() as conn:
        conn.execute(
            deployments.update()
            .where(deployments.c.name == NAME)
            .values(config={"unknown_categories": "sometimes"})
        )
    with pytest.raises(ValidationError, match="unknown_categories 'sometimes'"):
        _ = client.deployments.get(NAME).input_policy
