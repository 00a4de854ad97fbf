"""Only registered pipelines run unattended: the attacks on the controller's launch path."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from loopml.controller import Controller
from loopml.errors import PermissionDeniedError
from loopml.pipelines.catalog import PipelineCatalog
from loopml.sdk import Client
from loopml.store.schema import audit_events, registered_pipelines, triggers
from tests.controller.conftest import frame

MODULE = """
import json


def retrain(log: str) -> str:
    with open(log, "a") as handle:
        handle.write(json.dumps({{"version": VERSION}}) + "\\n")
    return "ok"


VERSION = {version}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """A project module `repro_pipes` whose code the test can change."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))

    def write(version: int) -> None:
        (folder / "repro_pipes.py").write_text(MODULE.format(version=version))
        if "repro_pipes" in sys.modules:
            importlib.reload(sys.modules["repro_pipes"])

    write(1)
    yield write
    sys.modules.pop("repro_pipes", None)


@pytest.fixture
def editor(client: Client, make_client: Callable[..., Client], tmp_path: Path) -> Client:
    client.log_dataset("bikes", frame(1))
    client.models.identity.create_principal("erin", "editor")
    token = client.models.identity.create_token("erin", label="tests")
    return make_client(root=tmp_path / "ws", token=token)


def test_an_editor_cannot_make_the_controller_run_os_system(
    client: Client, editor: Client, tmp_path: Path
) -> None:
    with pytest.raises(PermissionDeniedError, match="'os:system' is not registered"):
        editor.triggers.create("pwn", "schedule:1m", "os:system", params={"command": "id"})
    with pytest.raises(PermissionDeniedError, match="admin role"):
        PipelineCatalog(editor.stores).register("pwn", "os:system")
    assert editor.triggers.list() == []


def test_not_even_an_admin_registers_a_library_callable(client: Client) -> None:
    for target in ("os:system", "subprocess:run", "builtins:eval", "loopml.sdk:connect"):
        with pytest.raises(PermissionDeniedError, match="not a pipeline or a function of your"):
            PipelineCatalog(client.stores).register("pwn", target)
        with pytest.raises(PermissionDeniedError):
            client.triggers.create("pwn", "schedule:1m", target)
    assert PipelineCatalog(client.stores).list() == []


def test_an_editor_may_trigger_what_an_admin_registered(
    client: Client, editor: Client, project: Callable[[int], None], tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    record = PipelineCatalog(client.stores).register("retrain", "repro_pipes:retrain")
    assert record.kind == "function" and record.registered_by == client.principal.name
    editor.triggers.create("nightly", "dataset:bikes", "retrain", params={"log": str(log)})
    client.log_dataset("bikes", frame(2))
    [event] = Controller(client, owner="c1").reconcile_once().finished
    assert event.state == "succeeded", event.error
    assert log.read_text().strip() == '{"version": 1}'
    with client.stores.engine.connect() as conn:
        actions = conn.execute(select(audit_events.c.action)).scalars().all()
    assert "pipeline.register" in actions


def test_a_trigger_pointed_at_os_system_in_the_database_is_refused_at_launch(
    client: Client, project: Callable[[int], None], tmp_path: Path
) -> None:
    client.log_dataset("bikes", frame(1))
    PipelineCatalog(client.stores).register("retrain", "repro_pipes:retrain")
    client.triggers.create("nightly", "dataset:bikes", "retrain", params={"log": "x"})
    with client.stores.engine.begin() as conn:  # a direct database edit
        conn.execute(update(triggers).values(pipeline="os:system", params={"command": "id"}))
    client.log_dataset("bikes", frame(2))
    [event] = Controller(client, owner="c1").reconcile_once().finished
    assert event.state == "failed"
    assert "'os:system' is not registered" in (event.error or "")


def test_a_registration_pointed_at_os_system_in_the_database_is_refused_at_launch(
    client: Client, project: Callable[[int], None]
) -> None:
    client.log_dataset("bikes", frame(1))
    PipelineCatalog(client.stores).register("retrain", "repro_pipes:retrain")
    client.triggers.create("nightly", "dataset:bikes", "retrain", params={"log": "x"})
    with client.stores.engine.begin() as conn:
        conn.execute(update(registered_pipelines).values(import_path="os:system"))
    client.log_dataset("bikes", frame(2))
    [event] = Controller(client, owner="c1").reconcile_once().finished
    assert event.state == "failed"
    assert "not a pipeline or a function of your project" in (event.error or "")


def test_changed_code_needs_a_new_registration(
    client: Client, project: Callable[[int], None], tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    client.log_dataset("bikes", frame(1))
    catalog = PipelineCatalog(client.stores)
    first = catalog.register("retrain", "repro_pipes:retrain")
    client.triggers.create("nightly", "dataset:bikes", "retrain", params={"log": str(log)})
    project(2)  # the code changes after it was registered

    client.log_dataset("bikes", frame(2))
    [event] = Controller(client, owner="c1").reconcile_once().finished
    assert event.state == "failed"
    assert "changed since" in (event.error or "") and "loopml pipeline register" in (
        event.error or ""
    )
    assert not log.exists()

    second = catalog.register("retrain", "repro_pipes:retrain")  # an admin reviews, re-registers
    assert second.fingerprint != first.fingerprint
    client.log_dataset("bikes", frame(3))
    [event] = Controller(client, owner="c1").reconcile_once().finished
    assert event.state == "succeeded", event.error
    assert log.read_text().strip() == '{"version": 2}'


def test_an_admin_naming_an_import_path_registers_it(
    client: Client, project: Callable[[int], None]
) -> None:
    client.log_dataset("bikes", frame(1))
    client.triggers.create("nightly", "dataset:bikes", "repro_pipes:retrain", params={"log": "x"})
    [record] = PipelineCatalog(client.stores).list()
    assert (record.name, record.import_path) == ("retrain", "repro_pipes:retrain")
