"""Attacks on the operations routes: a viewer and an editor send well-formed requests to
every write route above their role, on real objects, and change nothing; a crafted
pipeline path never runs; an editor cannot override the traffic policy over the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.config import init_workspace, load_settings
from loopml.sdk import RemoteClient, RemoteOptions
from loopml.server import create_app
from loopml.server.routing import guarded_routes
from loopml.store.principal import ROLES
from tests.server.conftest import register_versions
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow
AREAS = {"deployments", "rollouts", "monitors", "triggers", "pipelines"}
OPEN = {"full_traffic": ["any"], "partial_traffic": ["any"], "shadow": ["any"]}


@pytest.fixture
def world(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """A deployment on version 1 of a fresh model (with a policy of its own), a running
    rollout on another, a monitor, a registered pipeline and a trigger; HTTP per role."""
    suffix = uuid.uuid4().hex[:8]
    options = RemoteOptions(journal_dir=tmp_path / "journal", retry_s=30)
    admin = RemoteClient(sqlite_server.url, role_tokens["admin"], options)
    editor = RemoteClient(sqlite_server.url, role_tokens["editor"], options)
    model = "atk-" + suffix
    register_versions(editor, model)
    names = {"model": model, "dep": "atk-dep-" + suffix, "ro": "atk-ro-" + suffix}
    for deployment in (names["dep"], names["ro"]):
        admin.deployments.create(deployment, f"model:{model}/1", override_reason="tests")
    admin.deployments.policy.set(OPEN, deployment=names["ro"], reason="tests")
    editor.rollouts.start(names["ro"], f"model:{model}/2", {"steps": [10, 100]})
    names["mon"] = editor.monitors.create("atk-mon-" + suffix, f"deployment:{names['dep']}").name
    module = "atk_pipes_" + suffix
    (sqlite_server.root / f"{module}.py").write_text("def job(n: int = 1) -> int:\n    return n\n")
    names["pipe"] = admin.pipelines.register("atk-pipe-" + suffix, f"{module}:job").name
    names["module"] = module
    names["trig"] = editor.triggers.create("atk-trig-" + suffix, "schedule:1h", names["pipe"]).name
    names["token"] = editor.deployments.tokens.create(names["dep"], ["predict"]).id
    http = {
        role: httpx.Client(
            base_url=sqlite_server.url + "/api/v1",
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        for role, token in role_tokens.items()
    }
    yield {"names": names, "http": http, "admin": admin}
    for client in (*http.values(), admin, editor):
        client.close()


def _writes(n: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """A well-formed request for every write route of the operations areas."""
    dep, ro, v2 = n["dep"], n["ro"], f"model:{n['model']}/2"
    route = {"model": n["model"], "version": 2, "weight": 100}
    return [
        ("POST", "/deployments", {"name": "atk-new-" + dep, "model": v2}),
        ("POST", f"/deployments/{dep}/update", {"routes": [route]}),
        ("POST", f"/deployments/{dep}/canary", {"model": v2, "weight": 10}),
        ("POST", f"/deployments/{dep}/blue-green", {"model": v2, "smoke_test": False}),
        ("POST", f"/deployments/{dep}/shadow", {"model": v2}),
        ("POST", f"/deployments/{dep}/promote", {"model": v2}),
        ("POST", f"/deployments/{dep}/rollback", {}),
        ("PUT", f"/deployments/{dep}/policy", {"policy": OPEN, "reason": "mine now"}),
        ("POST", f"/deployments/{ro}/policy/clear", {"reason": "mine now"}),
        ("PUT", "/traffic-policy", {"policy": OPEN, "reason": "mine now"}),
        ("POST", "/traffic-policy/clear", {"reason": "mine now"}),
        ("POST", f"/deployments/{dep}/tokens", {"scopes": ["predict"]}),
        ("DELETE", f"/deployment-tokens/{n['token']}", None),
        ("POST", "/rollouts", {"deployment": dep, "model": v2}),
        ("POST", f"/rollouts/{ro}/advance", {}),
        ("POST", f"/rollouts/{ro}/abort", {"reason": "sabotage"}),
        ("POST", "/monitors", {"name": "atk-new-" + n["mon"], "source": f"deployment:{dep}"}),
        ("POST", f"/monitors/{n['mon']}/run", {}),
        ("POST", "/alerts/alert-000000000000/acknowledge", {"comment": "seen"}),
        ("POST", "/alerts/alert-000000000000/resolve", {"reason": "not real"}),
        ("POST", "/pipelines", {"name": "atk-evil", "import_path": f"{n['module']}:job"}),
        ("POST", "/pipeline-runs", {"pipeline": n["pipe"], "params": {"n": 2}}),
        ("POST", "/triggers", {"name": "atk-t2", "on": "schedule:1h", "pipeline": n["pipe"]}),
        ("POST", f"/triggers/{n['trig']}/disable", None),
        ("POST", f"/triggers/{n['trig']}/enable", None),
        ("DELETE", f"/triggers/{n['trig']}", None),
        ("POST", "/trigger-events/tev-000000000000/retry", None),
    ]


def _template(path: str, table: set[tuple[str, str]]) -> tuple[str, str] | None:
    """The route (method, template) a concrete request hits."""
    for method, template in table:
        pattern = "^/api/v1" + re.sub(r"\{[^}]+\}", "[^/]+", template[len("/api/v1") :]) + "$"
        if re.match(pattern, "/api/v1" + path):
            return method, template
    return None


def _state(http: httpx.Client, n: dict[str, str]) -> dict[str, Any]:
    """What the attacks must leave as it was."""
    return {
        "dep": http.get(f"/deployments/{n['dep']}").json()["revision"],
        "ro": http.get(f"/rollouts/{n['ro']}").json()["revision"],
        "policy": http.get(f"/deployments/{n['ro']}/policy").json()["scope"],
        "workspace": http.get("/traffic-policy").json()["scope"],
        "trig": http.get(f"/triggers/{n['trig']}").json()["enabled"],
        "token": [t["revoked"] for t in http.get("/deployment-tokens").json()["tokens"]],
        "pipes": len(http.get("/pipelines").json()["pipelines"]),
        "monitors": len(http.get("/monitors").json()["monitors"]),
        "deployments": len(http.get("/deployments").json()["deployments"]),
        "runs": len(http.get("/pipeline-runs").json()["pipeline_runs"]),
    }


def test_viewers_and_editors_are_refused_every_write_above_their_role(
    tmp_path: Path, world: dict[str, Any]
) -> None:
    app = create_app(load_settings(init_workspace(tmp_path / "table")))
    try:
        routes = [r for r in guarded_routes(app.routes) if set(r.tags) & AREAS]
    finally:
        app.state.server.client.close()
    writes = {
        (m, r.path): r.min_role for r in routes for m in r.methods if m in ("POST", "PUT", "DELETE")
    }
    names, http = world["names"], world["http"]
    requests = _writes(names)
    hit = {_template(path, set(writes)) for _, path, _ in requests}
    assert hit == set(writes), f"write routes without an attack: {set(writes) - hit}"
    before = _state(http["viewer"], names)
    tried = 0
    for who in ("viewer", "editor"):
        for method, path, body in requests:
            found = _template(path, set(writes))
            assert found is not None
            if ROLES.index(who) >= ROLES.index(writes[found]):
                continue
            answer = http[who].request(method, path, json=body)
            assert answer.status_code == 403, f"{who} {method} {path}: {answer.text}"
            assert answer.json()["error"] == "forbidden"
            assert f"needs the {writes[found]} role" in answer.json()["detail"]
            tried += 1
    assert tried >= len(requests) + 4  # the viewer tries all, the editor the admin ones
    assert _state(http["viewer"], names) == before


def test_a_crafted_pipeline_path_never_runs(world: dict[str, Any]) -> None:
    names, http = world["names"], world["http"]
    editor, admin = http["editor"], http["admin"]
    runs = len(editor.get("/pipeline-runs").json()["pipeline_runs"])
    for crafted in ("os:system", "subprocess:run", f"{names['module']}:job", "../../x"):
        answer = editor.post("/pipeline-runs", json={"pipeline": crafted, "params": {}})
        assert answer.status_code in (403, 422), answer.text
        assert answer.json()["error"] in ("forbidden", "invalid")
    refused = editor.post("/pipeline-runs", json={"pipeline": "os:system"}).json()
    assert "registered pipeline by its name" in refused["detail"]
    unknown = editor.post("/pipeline-runs", json={"pipeline": "atk-never-registered"})
    assert unknown.status_code == 403 and "not registered" in unknown.json()["detail"]
    evil = admin.post("/pipelines", json={"name": "atk-os", "import_path": "os:system"})
    assert evil.status_code == 403 and "not a pipeline or a function" in evil.json()["detail"]
    trigger = editor.post(
        "/triggers", json={"name": "atk-os-trig", "on": "schedule:1h", "pipeline": "os:system"}
    )
    assert trigger.status_code == 403 and "not registered" in trigger.json()["detail"]
    assert len(editor.get("/pipeline-runs").json()["pipeline_runs"]) == runs
    assert "atk-os" not in {p["name"] for p in editor.get("/pipelines").json()["pipelines"]}


def test_an_editor_cannot_override_the_traffic_policy_remotely(world: dict[str, Any]) -> None:
    names, http = world["names"], world["http"]
    editor, dep = http["editor"], names["dep"]
    v2 = f"model:{names['model']}/2"
    before = editor.get(f"/deployments/{dep}").json()
    plain = editor.post(f"/deployments/{dep}/promote", json={"model": v2})
    assert plain.status_code == 403 and plain.json()["error"] == "policy_violation"
    for action, body in (
        ("promote", {"model": v2}),
        ("blue-green", {"model": v2, "smoke_test": False}),
        ("canary", {"model": v2, "weight": 90}),
        ("update", {"routes": [{"model": names["model"], "version": 2, "weight": 100}]}),
        ("rollback", {}),
    ):
        answer = editor.post(
            f"/deployments/{dep}/{action}", json={**body, "override_reason": "trust me"}
        )
        assert answer.status_code == 403, f"{action}: {answer.text}"
        assert "admin" in answer.json()["detail"]
    created = editor.post(
        "/deployments",
        json={"name": "atk-forced-" + dep, "model": v2, "override_reason": "trust me"},
    )
    assert created.status_code == 403
    assert editor.get(f"/deployments/{dep}").json() == before
    me = editor.get("/auth/whoami").json()["name"]
    events = editor.get("/audit/events", params={"object": f"deployment:{dep}"}).json()["events"]
    routing = [e for e in events if e["action"] in ("deployment.update", "deployment.rollback")]
    assert routing == [] and [e["actor"] for e in events if e["action"] == "deployment.create"]
    assert all(e["actor"] != me for e in events if e["action"].startswith("deployment.create"))
    forced = world["admin"].deployments.promote(dep, v2, override_reason="incident 7")
    assert forced.revision == before["revision"] + 1
