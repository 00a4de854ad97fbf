"""DeploymentService on real registered models: every operation, revisions, history, audit."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from loopml.deployments import Deployment, Route
from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import list_events, verify_chain
from loopml.registry import ModelVersion
from loopml.sdk import Client
from tests.deployments.conftest import Register
from tests.deployments.helpers import open_traffic

NAME = "bikes-api"


def _events(client: Client, name: str = NAME) -> list[Any]:
    return list_events(client.stores.engine, obj=f"deployment:{name}")


def _snapshot(client: Client, name: str = NAME) -> tuple[Deployment, list[dict[str, Any]], int]:
    """Everything a refused change must leave as it was."""
    return (
        client.deployments.get(name),
        client.deployments.history(name),
        len(_events(client, name)),
    )


# ---------------------------------------------------------------------- create
def test_create_resolves_the_reference_to_a_version_now(
    any_client: Client, register: Register
) -> None:
    register(any_client, 2)
    any_client.models.registry.set_alias("bikes", "staging", 1)
    created = any_client.deployments.create(
        NAME, "model:bikes@staging", sticky_key="user_id", config={"timeout_s": 2}
    )
    assert created.routes == [Route("bikes", 1, 100)]
    assert (created.revision, created.strategy, created.shadows) == (1, "single", [])
    assert created.previous_routes is None
    assert created.sticky_key == "user_id" and created.config == {"timeout_s": 2}
    assert created.created_by == any_client.principal.name == created.updated_by
    assert any_client.deployments.get(NAME) == created

    any_client.models.registry.set_alias("bikes", "staging", 2)  # the alias moves on ...
    assert any_client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]  # ... not this

    [event] = _events(any_client)
    assert event.action == "deployment.create"
    assert event.details["routes"] == [{"model": "bikes", "version": 1, "weight": 100.0}]
    history = any_client.deployments.history(NAME)
    assert [(h["revision"], h["strategy"], h["routes"]) for h in history] == [
        (1, "single", [{"model": "bikes", "version": 1, "weight": 100.0}])
    ]
    assert any_client.deployments.revisions() == {NAME: 1}


@pytest.mark.parametrize("ref", ["bikes/1", "model:bikes/1", "bikes", "model:bikes@latest"])
def test_create_accepts_every_model_reference(client: Client, register: Register, ref: str) -> None:
    register(client)
    assert client.deployments.create(NAME, ref).routes == [Route("bikes", 1)]


def test_create_refuses_what_it_cannot_serve(client: Client, register: Register) -> None:
    register(client, 2)
    client.deployments.create(NAME, "bikes/1")
    with pytest.raises(ConflictError, match=r"already exists.*loopml deploy update"):
        client.deployments.create(NAME, "bikes/2")
    with pytest.raises(NotFoundError, match=r"no model version.*loopml models list"):
        client.deployments.create("other", "bikes/9")
    with pytest.raises(NotFoundError, match="no alias"):
        client.deployments.create("other", "bikes@nope")
    with pytest.raises(ValidationError, match="deployment name"):
        client.deployments.create("no spaces", "bikes/1")
    with pytest.raises(ValidationError, match="sticky key"):
        client.deployments.create("other", "bikes/1", sticky_key="")
    with pytest.raises(ValidationError, match="JSON values"):
        client.deployments.create("other", "bikes/1", config={"f": object()})
    client.models.registry.set_state("bikes/2", "DEPRECATED")
    with pytest.raises(ValidationError, match="DEPRECATED; only REGISTERED"):
        client.deployments.create("other", "bikes/2")
    assert [d.name for d in client.deployments.list()] == [NAME]
    assert client.deployments.get(NAME).revision == 1


# ---------------------------------------------------------------------- update
def test_update_replaces_the_split_and_records_the_revision(
    any_client: Client, register: Register
) -> None:
    register(any_client, 3)
    any_client.deployments.create(NAME, "bikes/1")
    updated = any_client.deployments.update(
        NAME,
        [Route("bikes", 1, 90), {"model": "bikes", "version": 2, "weight": 10}],
        shadows=[Route("bikes", 3)],
        reason="try v2 on a tenth",
    )
    assert updated.revision == 2 and updated.strategy == "canary"
    assert updated.routes == [Route("bikes", 1, 90), Route("bikes", 2, 10)]
    assert updated.shadows == [Route("bikes", 3)]
    assert updated.previous_routes == [Route("bikes", 1)]
    assert any_client.deployments.get(NAME) == updated
    assert any_client.deployments.revisions([NAME]) == {NAME: 2}

    last = any_client.deployments.history(NAME)[-1]
    assert last["revision"] == 2 and last["reason"] == "try v2 on a tenth"
    assert last["shadows"] == [{"model": "bikes", "version": 3, "weight": 100.0}]
    event = _events(any_client)[-1]
    assert event.action == "deployment.update"
    assert event.details["routes"] == [r.to_dict() for r in updated.routes]
    assert event.details["previous_routes"] == [Route("bikes", 1).to_dict()]
    assert event.details["reason"] == "try v2 on a tenth"
    assert verify_chain(any_client.stores.engine).ok


def test_update_keeps_shadows_and_sticky_key_unless_given(
    client: Client, register: Register
) -> None:
    register(client, 3)
    client.deployments.create(NAME, "bikes/1", sticky_key="user")
    client.deployments.update(NAME, [Route("bikes", 1)], shadows=[Route("bikes", 3, 25)])
    kept = client.deployments.update(NAME, [Route("bikes", 1, 50), Route("bikes", 2, 50)])
    assert kept.shadows == [Route("bikes", 3, 25)] and kept.sticky_key == "user"
    cleared = client.deployments.update(NAME, [Route("bikes", 2)], shadows=[], sticky_key=None)
    assert cleared.shadows == [] and cleared.sticky_key is None
    assert client.deployments.get(NAME).sticky_key is None


REFUSED: list[tuple[list[Any], dict[str, Any], type[Exception], str]] = [
    ([Route("bikes", 1, 60), Route("bikes", 2, 30)], {}, ValidationError, "add up to 90"),
    ([{"model": "bikes", "version": 1, "weight": -10}], {}, ValidationError, "between 0 and"),
    ([Route("bikes", 1, 50), Route("bikes", 1, 50)], {}, ValidationError, "appears twice"),
    ([Route("bikes", 9)], {}, NotFoundError, r"no model version model:bikes/9"),
    ([Route("bikes", 3)], {}, ValidationError, "DEPRECATED"),
    ([Route("cars", 1)], {}, NotFoundError, "model:cars/1"),
    ([Route("bikes", 1)], {"shadows": [Route("bikes", 1)]}, ValidationError, "both a route"),
    ([Route("bikes", 1)], {"shadows": [Route("bikes", 9)]}, NotFoundError, "bikes/9"),
    ([Route("bikes", 1)], {"strategy": "rolling"}, ValidationError, "strategy"),
    (
        [Route("bikes", 1, 50), Route("bikes", 2, 50)],
        {"strategy": "single"},
        ValidationError,
        "one version",
    ),
    ([], {}, ValidationError, "at least one route"),
    ([Route("bikes", 1)], {"sticky_key": "bad\nkey"}, ValidationError, "sticky key"),
]


@pytest.mark.parametrize(("routes", "options", "error", "fragment"), REFUSED)
def test_a_refused_update_leaves_the_deployment_unchanged(
    client: Client,
    register: Register,
    routes: list[Any],
    options: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    register(client, 3)
    client.models.registry.set_state("bikes/3", "DEPRECATED")
    client.deployments.create(NAME, "bikes/1")
    client.deployments.canary(NAME, "bikes/2", 20)
    before = _snapshot(client)
    with pytest.raises(error, match=fragment):
        client.deployments.update(NAME, routes, **options)
    assert _snapshot(client) == before


def test_refused_changes_are_rolled_back_on_every_backend(
    any_client: Client, register: Register
) -> None:
    register(any_client, 2)
    any_client.deployments.create(NAME, "bikes/1")
    before = _snapshot(any_client)
    with pytest.raises(NotFoundError):
        any_client.deployments.update(NAME, [Route("bikes", 1, 50), Route("bikes", 7, 50)])
    with pytest.raises(ValidationError):
        any_client.deployments.canary(NAME, "bikes/2", 100)
    with pytest.raises(ValidationError):
        any_client.deployments.rollback(NAME)
    assert _snapshot(any_client) == before


# ---------------------------------------------------------------------- rollouts
def test_canary_then_promote(any_client: Client, register: Register) -> None:
    register(any_client, 3)
    any_client.deployments.create(NAME, "bikes/1")
    any_client.deployments.shadow(NAME, "bikes/2")
    first = any_client.deployments.canary(NAME, "bikes/2", 10, reason="shadow looked fine")
    assert first.routes == [Route("bikes", 1, 90), Route("bikes", 2, 10)]
    assert first.shadows == []  # the candidate stops being a shadow once it takes traffic
    assert first.strategy == "canary"
    wider = any_client.deployments.canary(NAME, "model:bikes/2", 50)
    assert wider.routes == [Route("bikes", 1, 50), Route("bikes", 2, 50)]
    assert wider.previous_routes == first.routes
    third = any_client.deployments.canary(NAME, "bikes/3", 20)
    assert third.routes == [Route("bikes", 1, 40), Route("bikes", 2, 40), Route("bikes", 3, 20)]
    done = any_client.deployments.promote(NAME, "bikes/2")
    assert (done.routes, done.strategy, done.revision) == ([Route("bikes", 2)], "single", 6)
    assert done.previous_routes == third.routes
    ops = [e.details["operation"] for e in _events(any_client)]
    assert ops == ["create", "shadow", "canary", "canary", "canary", "promote"]
    assert [h["revision"] for h in any_client.deployments.history(NAME)] == [1, 2, 3, 4, 5, 6]


def test_shadow_on_and_off_keeps_the_rollback_point(client: Client, register: Register) -> None:
    register(client, 3)
    client.deployments.create(NAME, "bikes/1")
    client.deployments.promote(NAME, "bikes/2")
    shadowed = client.deployments.shadow(NAME, "bikes/3")
    assert shadowed.shadows == [Route("bikes", 3)] and shadowed.routes == [Route("bikes", 2)]
    assert shadowed.previous_routes == [Route("bikes", 1)]  # not the unchanged routes
    again = client.deployments.shadow(NAME, "bikes/3")  # idempotent: still one shadow
    assert again.shadows == [Route("bikes", 3)]
    off = client.deployments.shadow(NAME, "bikes/3", enabled=False)
    assert off.shadows == [] and off.revision == 5
    with pytest.raises(ValidationError, match="is not a shadow"):
        client.deployments.shadow(NAME, "bikes/3", enabled=False)
    with pytest.raises(ValidationError, match="both a route and a shadow"):
        client.deployments.shadow(NAME, "bikes/2")
    assert client.deployments.rollback(NAME).routes == [Route("bikes", 1)]


def test_rollback_restores_the_replaced_routes(any_client: Client, register: Register) -> None:
    register(any_client, 2)
    any_client.deployments.create(NAME, "bikes/1")
    with pytest.raises(ValidationError, match="no previous routes"):
        any_client.deployments.rollback(NAME)
    any_client.deployments.canary(NAME, "bikes/2", 25)
    back = any_client.deployments.rollback(NAME, reason="p99 latency doubled")
    assert back.routes == [Route("bikes", 1)] and back.strategy == "single"
    assert back.previous_routes == [Route("bikes", 1, 75), Route("bikes", 2, 25)]
    forward = any_client.deployments.rollback(NAME)  # a second rollback rolls forward
    assert forward.routes == back.previous_routes and forward.strategy == "canary"
    events = _events(any_client)
    assert [e.action for e in events[-2:]] == ["deployment.rollback"] * 2
    assert events[-2].details["reason"] == "p99 latency doubled"
    assert events[-2].details["routes"] == [Route("bikes", 1).to_dict()]
    assert any_client.deployments.history(NAME)[2]["reason"] == "p99 latency doubled"


def test_rollback_may_return_to_a_deprecated_version(client: Client, register: Register) -> None:
    register(client, 2)
    client.deployments.create(NAME, "bikes/1")
    client.deployments.promote(NAME, "bikes/2")
    client.models.registry.set_state("bikes/1", "DEPRECATED")
    assert client.deployments.rollback(NAME).routes == [Route("bikes", 1)]


def test_blue_green_switches_after_a_smoke_test(any_client: Client, register: Register) -> None:
    register(any_client, 2)
    any_client.deployments.create(NAME, "bikes/1")
    switched = any_client.deployments.blue_green(NAME, "bikes@latest", reason="v2 is better")
    assert (switched.routes, switched.strategy) == ([Route("bikes", 2)], "blue-green")
    assert switched.previous_routes == [Route("bikes", 1)]
    assert [e.action for e in _events(any_client)] == ["deployment.create", "deployment.update"]
    assert any_client.deployments.rollback(NAME).routes == [Route("bikes", 1)]


def test_a_failed_smoke_test_changes_nothing(
    any_client: Client, register: Register, broken: Callable[[Client], ModelVersion]
) -> None:
    register(any_client)
    bad = broken(any_client)
    any_client.deployments.create(NAME, "bikes/1")
    before = _snapshot(any_client)
    with pytest.raises(ValidationError, match=r"smoke test of model:bikes/2 failed.*temp_squared"):
        any_client.deployments.blue_green(NAME, bad.uri)
    assert _snapshot(any_client) == before
    skipped = any_client.deployments.blue_green(NAME, bad.uri, smoke_test=False)
    assert skipped.routes == [Route("bikes", 2)]


# ---------------------------------------------------------------------- reads
def test_unknown_deployment_is_not_found_with_a_hint(client: Client, register: Register) -> None:
    register(client)
    calls: list[Callable[[], object]] = [
        lambda: client.deployments.get("nope"),
        lambda: client.deployments.history("nope"),
        lambda: client.deployments.update("nope", [Route("bikes", 1)]),
        lambda: client.deployments.canary("nope", "bikes/1", 10),
        lambda: client.deployments.blue_green("nope", "bikes/1"),
        lambda: client.deployments.shadow("nope", "bikes/1"),
        lambda: client.deployments.promote("nope", "bikes/1"),
        lambda: client.deployments.rollback("nope"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="no deployment 'nope'; `loopml deploy list`"):
            call()


def test_list_and_revisions(any_client: Client, register: Register) -> None:
    assert any_client.deployments.list() == [] and any_client.deployments.revisions() == {}
    register(any_client, 2)
    any_client.deployments.create("b-api", "bikes/1")
    any_client.deployments.create("a-api", "bikes/2")
    any_client.deployments.promote("b-api", "bikes/2")
    assert [d.name for d in any_client.deployments.list()] == ["a-api", "b-api"]
    assert any_client.deployments.revisions() == {"a-api": 1, "b-api": 2}
    assert any_client.deployments.revisions(["b-api", "gone"]) == {"b-api": 2}
    assert any_client.deployments.revisions([]) == {}


# ---------------------------------------------------------------------- concurrency, roles
@pytest.mark.parametrize(
    "backend", ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]
)
def test_concurrent_changes_never_lose_a_revision(
    backend: str, make_client: Callable[..., Client], register: Register
) -> None:
    first = open_traffic(make_client(backend))
    register(first, 5)
    first.deployments.create(NAME, "bikes/1")
    clients = [first, *(make_client(backend) for _ in range(3))]
    barrier = threading.Barrier(len(clients))

    def change(index: int) -> Deployment:
        barrier.wait()
        return clients[index].deployments.canary(NAME, f"bikes/{index + 2}", 10 + index)

    with ThreadPoolExecutor(len(clients)) as pool:
        done = list(pool.map(change, range(len(clients))))

    assert sorted(d.revision for d in done) == [2, 3, 4, 5]
    history = first.deployments.history(NAME)
    assert [h["revision"] for h in history] == [1, 2, 3, 4, 5]
    assert first.deployments.get(NAME).revision == 5
    # Each change was computed from the one committed just before it: none was lost.
    events = _events(first)
    for before, after in itertools.pairwise(events):
        assert after.details["previous_routes"] == before.details["routes"]
    assert verify_chain(first.stores.engine).ok


def test_a_viewer_cannot_change_deployments(
    client: Client, register: Register, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    register(client, 2)
    client.deployments.create(NAME, "bikes/1")
    logins = {}
    for name, role in (("vic", "viewer"), ("erin", "editor")):
        client.models.identity.create_principal(name, role)
        token = client.models.identity.create_token(name)
        logins[name] = make_client(root=tmp_path / "ws", token=token)
    viewer, editor = logins["vic"], logins["erin"]
    before = _snapshot(client)
    refused: list[Callable[[], object]] = [
        lambda: viewer.deployments.create("mine", "bikes/1"),
        lambda: viewer.deployments.update(NAME, [Route("bikes", 2)]),
        lambda: viewer.deployments.update(NAME, unknown_categories="accept"),
        lambda: viewer.deployments.canary(NAME, "bikes/2", 10),
        lambda: viewer.deployments.blue_green(NAME, "bikes/2"),
        lambda: viewer.deployments.shadow(NAME, "bikes/2"),
        lambda: viewer.deployments.promote(NAME, "bikes/2"),
        lambda: viewer.deployments.rollback(NAME),
    ]
    for call in refused:
        with pytest.raises(PermissionDeniedError, match=r"vic \(viewer\).*editor role"):
            call()
    assert _snapshot(client) == before
    assert viewer.deployments.get(NAME).revision == 1  # reading is fine
    changed = editor.deployments.promote(NAME, "bikes/2")
    assert changed.updated_by == "erin" and changed.created_by == client.principal.name
    assert _events(client)[-1].actor == "erin"
    assert client.deployments.history(NAME)[-1]["actor"] == "erin"
