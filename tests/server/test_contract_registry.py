"""The data, registry and governance contract: the same tests on the namespaces
(`datasets`, `models`, `approvals`, `auth`, `audit`) of the SDK in local mode, in remote
mode over a server on SQLite, and in remote mode over a server on PostgreSQL + the S3
server; then what a viewer and a revoked token may not do, in every mode."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from loopml import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.sdk import AnyClient, Client, RemoteClient, RemoteOptions
from tests.server.conftest import MODES, ROLES

Team = dict[str, AnyClient]
DENIED = r"\(viewer\) may not .*needs the (editor|approver|admin) role"


@pytest.fixture(params=MODES)
def team(
    request: pytest.FixtureRequest,
    make_client: Callable[..., Client],
    remote_options: RemoteOptions,
) -> Iterator[Team]:
    """A client per role, all on one backend of the mode under test."""
    if request.param == "local":
        owner = make_client()  # the workspace's unauthenticated local admin
        clients: Team = {}
        for role in ROLES:
            owner.auth.create_principal(f"{role}-local", role)
            token = owner.auth.create_token(f"{role}-local", label="tests").token
            clients[role] = make_client(token=token)
        yield clients
        return
    if request.param == "remote-sqlite":
        server = request.getfixturevalue("sqlite_server")
        tokens = request.getfixturevalue("role_tokens")
    else:
        server = request.getfixturevalue("pg_s3_server")
        tokens = request.getfixturevalue("pg_role_tokens")
    remote: Team = {role: RemoteClient(server.url, tokens[role], remote_options) for role in ROLES}
    yield remote
    for client in remote.values():
        client.close()


@pytest.fixture
def name() -> str:
    """A dataset or model name no other test uses (the servers are shared)."""
    return "reg-" + uuid.uuid4().hex[:10]


def frame(rows: int, extra: bool = False) -> pd.DataFrame:
    data = pd.DataFrame({"temp": [float(i % 17) for i in range(rows)]})
    data["cnt"] = data["temp"] * 3.0 + 1.0
    if extra:
        data["holiday"] = [i % 7 == 0 for i in range(rows)]
    return data


def trained(client: AnyClient, data: str) -> str:
    """A run that reads `data` and logs a Ridge model under `model/`; returns its id."""
    with client.runs.start_run("registry-contract", capture_code=False) as run:
        table = client.datasets.load(data)
        x, y = table[["temp"]], table["cnt"]
        run.log_model(Ridge().fit(x, y), input_example=x)
        run.log_input(data)
    return run.id


def test_datasets_log_get_list_load_diff_download(team: Team, name: str, tmp_path: Path) -> None:
    datasets = team["editor"].datasets
    first = datasets.log(name, frame(30), description="winter")
    assert (first.uri, first.row_count, first.description) == (f"dataset:{name}@1", 30, "winter")
    assert datasets.log(name, frame(30)).id == first.id  # the same bytes: the same version
    second = datasets.log(name, frame(40, extra=True), time_column=None)
    assert second.version == 2 and second.parent_id == first.id
    assert datasets.get(f"{name}@1") == first and datasets.get(name).id == second.id
    assert datasets.get(first).id == first.id
    page = datasets.list(name, max_results=1)
    assert [v.version for v in page] == [1] and page.next_page_token is not None
    rest = datasets.list(name, max_results=1, page_token=page.next_page_token)
    assert [v.version for v in rest] == [2] and rest.next_page_token is None
    assert list(datasets.load(f"{name}@2", ["cnt"]).columns) == ["cnt"]
    pd.testing.assert_frame_equal(datasets.load(first), frame(30))
    diff = datasets.diff(f"{name}@1", f"{name}@2")
    assert [c["name"] for c in diff.added] == ["holiday"] and diff.row_delta == 10
    files = datasets.download(f"{name}@2", tmp_path / "copy")
    assert len(files) == 1 and files[0].parent == tmp_path / "copy"
    pd.testing.assert_frame_equal(pd.read_parquet(files[0]), frame(40, extra=True))
    with pytest.raises(NotFoundError, match=name):
        datasets.get(f"{name}@9")
    with pytest.raises(ValidationError, match="name"):
        datasets.log("no spaces allowed", frame(3))
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ValidationError, match="folder"):
        datasets.download(first, tmp_path / "a-file")


def test_models_register_aliases_state_policy_evaluation_card_lineage(
    team: Team, name: str
) -> None:
    editor, admin = team["editor"], team["admin"]
    data = editor.datasets.log(name, frame(50)).uri
    run_id = trained(editor, data)
    models = editor.models
    version = models.register(name, run_id, description="first ridge")
    assert (version.uri, version.run_id, version.description) == (
        f"model:{name}/1",
        run_id,
        "first ridge",
    )
    assert models.register(name, run_id).version == 2
    assert models.get(f"model:{name}/1") == models.get(version.id)
    assert models.get(name).version == 2  # the latest
    assert name in [m.name for m in models.list()]
    assert models.model(name).latest_version == 2
    page = models.versions(name, max_results=1)
    assert [v.version for v in page] == [1] and page.next_page_token is not None
    assert models.set_alias(name, "staging", 1).aliases == ["staging"]
    assert models.get(f"{name}@staging").version == 1
    models.delete_alias(name, "staging")
    with pytest.raises(NotFoundError):
        models.get(f"{name}@staging")
    assert models.set_state(f"{name}/2", "DEPRECATED").state == "DEPRECATED"
    assert models.set_state(f"{name}/2", "REGISTERED").state == "REGISTERED"
    with pytest.raises(ValidationError):
        models.set_state(f"{name}/2", "GONE")
    chain = models.lineage(f"{name}/1")
    assert chain["model"]["uri"] == f"model:{name}/1"
    assert chain["run"]["uri"] == "run:" + run_id.removeprefix("run-")
    scored = models.evaluate(f"{name}/1", data, "cnt")
    assert scored["metrics"]["r2"] > 0.99
    card = models.card(f"{name}/1")
    assert card["evaluations"] and card["model"]["name"] == name
    assert name in models.card_markdown(f"{name}/1")
    assert models.card_html(f"{name}/1").lstrip().lower().startswith("<!doctype html")
    assert models.policy(name).required_approvals == 1
    with pytest.raises(PermissionDeniedError, match="admin"):
        models.set_policy(name, {"required_approvals": 2})
    assert admin.models.set_policy(name, {"required_approvals": 2}).required_approvals == 2
    assert editor.models.policy(name).required_approvals == 2
    with pytest.raises(ValidationError, match="required_approvals"):
        admin.models.set_policy(name, {"required_approvals": 0})
    with pytest.raises(NotFoundError):
        models.register(name, "run-00000000")


def test_approvals_four_eyes_decide_cancel_and_list(team: Team, name: str) -> None:
    editor, approver = team["editor"], team["approver"]
    run_id = trained(editor, editor.datasets.log(name, frame(20)).uri)
    editor.models.register(name, run_id)
    editor.models.register(name, run_id)
    asked = editor.approvals.request(f"{name}/1", reason="better")
    assert (asked.status, asked.alias, asked.version) == ("PENDING", "champion", 1)
    with pytest.raises(PermissionDeniedError):
        editor.approvals.approve(asked.id)
    done = approver.approvals.approve(asked.id, "checked the card")
    assert done.status == "APPROVED" and done.decisions[0].comment == "checked the card"
    assert editor.models.get(f"{name}@champion").version == 1
    with pytest.raises(ConflictError):
        approver.approvals.reject(asked.id)
    second = editor.approvals.request(f"{name}/2")
    assert approver.approvals.reject(second.id, "worse").status == "REJECTED"
    third = editor.approvals.request(f"{name}/2")
    assert editor.approvals.cancel(third.id).status == "REJECTED"
    assert editor.approvals.get(third.id).outcome is not None
    assert [r.id for r in editor.approvals.list(name)] == [asked.id, second.id, third.id]
    assert [r.id for r in editor.approvals.list(name, status="APPROVED")] == [asked.id]
    page = editor.approvals.list(name, max_results=2)
    assert len(page) == 2 and page.next_page_token is not None
    with pytest.raises(NotFoundError):
        editor.approvals.get("req-00000000")


def test_auth_principals_tokens_and_whoami(team: Team, name: str) -> None:
    admin = team["admin"]
    for role, client in team.items():
        assert client.auth.whoami().role == role
    made = admin.auth.create_principal(name, "editor")
    assert (made.name, made.role, made.disabled) == (name, "editor", False)
    assert admin.auth.get_principal(name) == made
    assert name in [p.name for p in admin.auth.principals()]
    issued = admin.auth.create_token(name, label="ci", expires_in_s=3600)
    assert (issued.principal, issued.role, issued.label) == (name, "editor", "ci")
    assert issued.token.startswith("lml_") and issued.token_id
    with pytest.raises(ConflictError):
        admin.auth.create_principal(name, "viewer")
    with pytest.raises(NotFoundError):
        admin.auth.create_token("nobody-" + name)
    with pytest.raises(PermissionDeniedError, match=DENIED):
        team["viewer"].auth.principals()
    admin.auth.revoke_token(issued.token_id)


def test_audit_events_pages_one_event_and_verify(team: Team, name: str) -> None:
    editor, viewer = team["editor"], team["viewer"]
    run_id = trained(editor, editor.datasets.log(name, frame(20)).uri)
    editor.models.register(name, run_id)
    editor.models.set_alias(name, "staging", 1)
    events = viewer.audit.events(f"model:{name}", newest_first=False)
    assert [e.action for e in events] == ["model.create", "model.register", "alias.move"]
    assert {e.actor for e in events} == {editor.auth.whoami().name}
    newest = viewer.audit.events(f"model:{name}", max_results=1)
    assert [e.action for e in newest] == ["alias.move"] and newest.next_page_token
    older = viewer.audit.events(f"model:{name}", max_results=5, page_token=newest.next_page_token)
    assert [e.action for e in older] == ["model.register", "model.create"]
    assert viewer.audit.event(events[0].seq) == events[0]
    assert viewer.audit.event(10**12) is None
    checked = viewer.audit.verify()
    assert checked.ok and checked.checked >= 3


# ---------------------------------------------------------------------- attackers
def test_a_viewer_can_write_nothing_through_the_namespaces(team: Team, name: str) -> None:
    editor, viewer = team["editor"], team["viewer"]
    data = editor.datasets.log(name, frame(20)).uri
    run_id = trained(editor, data)
    editor.models.register(name, run_id)
    editor.models.set_alias(name, "staging", 1)
    asked = editor.approvals.request(f"{name}/1")
    writes: dict[str, Callable[[], object]] = {
        "datasets.log": lambda: viewer.datasets.log(name, frame(5)),
        "runs.start_run": lambda: viewer.runs.start_run("x", capture_code=False),
        "models.register": lambda: viewer.models.register(name, run_id),
        "models.set_alias": lambda: viewer.models.set_alias(name, "staging", 1),
        "models.delete_alias": lambda: viewer.models.delete_alias(name, "staging"),
        "models.set_state": lambda: viewer.models.set_state(f"{name}/1", "DEPRECATED"),
        "models.set_policy": lambda: viewer.models.set_policy(name, {"required_approvals": 3}),
        "models.evaluate": lambda: viewer.models.evaluate(f"{name}/1", data, "cnt"),
        "approvals.request": lambda: viewer.approvals.request(f"{name}/1"),
        "approvals.approve": lambda: viewer.approvals.approve(asked.id),
        "approvals.reject": lambda: viewer.approvals.reject(asked.id),
        "approvals.cancel": lambda: viewer.approvals.cancel(asked.id),
        "auth.create_principal": lambda: viewer.auth.create_principal("x" + name, "admin"),
        "auth.create_token": lambda: viewer.auth.create_token(name),
        "auth.revoke_token": lambda: viewer.auth.revoke_token("tok-00000000"),
    }
    for what, write in writes.items():
        # withdrawing is its requester's (or an admin's) right, whatever the role
        pattern = "may cancel|needs the editor role" if what == "approvals.cancel" else DENIED
        with pytest.raises(PermissionDeniedError, match=pattern):
            write()
            pytest.fail(f"a viewer could {what}")
    assert editor.models.get(f"{name}@staging").version == 1
    assert editor.models.get(f"{name}/1").state == "REGISTERED"
    assert editor.approvals.get(asked.id).status == "PENDING"
    assert [v.version for v in editor.datasets.list(name)] == [1]
    assert [e.actor for e in editor.audit.events(f"model:{name}")] == [
        editor.auth.whoami().name
    ] * 3


def test_a_revoked_token_is_refused_everywhere(
    team: Team, name: str, make_client: Callable[..., Client], remote_options: RemoteOptions
) -> None:
    admin = team["admin"]
    admin.auth.create_principal(name, "editor")
    issued = admin.auth.create_token(name)
    admin.auth.revoke_token(issued.token_id or "")
    if isinstance(admin, Client):
        with pytest.raises(PermissionDeniedError, match="revoked"):
            make_client(token=issued.token)
        return
    with pytest.raises(PermissionDeniedError, match="revoked"):
        RemoteClient(admin.url, issued.token, remote_options)
    answer = httpx.get(
        f"{admin.url}/api/v1/datasets",
        headers={"authorization": f"Bearer {issued.token}"},
        timeout=30,
    )
    assert answer.status_code == 401 and answer.json()["error"] == "unauthenticated"
    assert "revoked" in answer.json()["detail"]
