"""Who may call what: the role-by-route matrix, built from the app's own route table, and
the attacks on the token boundary (none, malformed, revoked, expired, another kind)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.config import init_workspace, load_settings
from loopml.server import create_app
from loopml.server.mlflow.errors import is_mlflow_path
from loopml.server.routing import GuardedRoute, guarded_routes
from loopml.store.principal import ROLES
from tests.server.live import LiveServer, make_principal

PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"}
PUBLIC |= {"/redoc", "/ui"}  # the web UI mount: it checks its session cookie (tests/server/ui)
PLACEHOLDERS = {"run_id": "run-000000000000", "version": "1", "path": "x.txt"}
WHO = ("anonymous", *ROLES)


def _route_table(tmp: Path) -> list[GuardedRoute]:
    app = create_app(load_settings(init_workspace(tmp / "table")))
    others = [r for r in app.routes if not isinstance(r, GuardedRoute)]
    assert {getattr(r, "path", None) for r in others} <= PUBLIC, "an unguarded route appeared"
    routes = guarded_routes(app.routes)
    assert all(r.path.startswith("/api/v1/") or is_mlflow_path(r.path) for r in routes)
    app.state.server.client.close()
    return routes


def test_every_api_route_declares_its_least_role(tmp_path: Path) -> None:
    routes = _route_table(tmp_path)
    assert len(routes) >= 40
    assert sum(is_mlflow_path(r.path) for r in routes) >= 30  # the MLflow API is guarded too
    for route in routes:
        assert route.min_role in ROLES
        assert route.openapi_extra is not None
        assert route.openapi_extra["security"] == [{"bearerToken": []}]
    # MLflow's searches and latest-version lookups are POSTs that read (the stock client
    # sends them so).
    reads = ("/search", "/get-latest-versions")
    mlflow_reads = [r for r in routes if is_mlflow_path(r.path) and r.path.endswith(reads)]
    writes = [r for r in routes if r.methods & {"POST", "PUT", "DELETE"} and r not in mlflow_reads]
    assert all(r.min_role != "viewer" for r in writes), "a viewer may never change anything"
    with pytest.raises(ValueError, match="least role"):
        GuardedRoute("/api/v1/forgotten", lambda: None, methods=["GET"])


def _concrete(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return PLACEHOLDERS.get(name, "x")

    return re.sub(r"\{([^}]+)\}", fill, path)


def _call(http: httpx.Client, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT"):
        kwargs["json"] = {}
    return http.request(method, path, **kwargs)


def test_the_role_route_matrix(
    tmp_path: Path, sqlite_server: LiveServer, role_tokens: dict[str, str]
) -> None:
    """Every route, for anonymous, viewer, editor, approver, admin: 401, 403 or let through."""
    routes = _route_table(tmp_path)
    seen = []
    with httpx.Client(base_url=sqlite_server.url, timeout=30) as http:
        for route in routes:
            for method in sorted(route.methods):
                path = _concrete(route.path)
                for who in WHO:
                    answer = _call(http, method, path, role_tokens.get(who))
                    where = f"{who} {method} {route.path}: {answer.status_code} {answer.text}"
                    assert answer.status_code < 500, where
                    body = answer.json()
                    assert set(body) >= {"error", "detail", "hint"} or answer.status_code < 400
                    if who == "anonymous":
                        assert answer.status_code == 401, where
                        assert body["error"] == "unauthenticated"
                        if is_mlflow_path(route.path):
                            assert body["error_code"] == "UNAUTHENTICATED", where
                        assert answer.headers["www-authenticate"] == "Bearer"
                    elif ROLES.index(who) < ROLES.index(route.min_role):
                        assert answer.status_code == 403, where
                        assert body["error"] == "forbidden"
                        assert f"needs the {route.min_role} role" in body["detail"]
                        if is_mlflow_path(route.path):
                            assert body["error_code"] == "PERMISSION_DENIED", where
                    else:
                        assert answer.status_code not in (401, 403), where
                    seen.append((who, method, route.path))
    assert len(seen) == len(WHO) * sum(len(r.methods) for r in routes)


def test_a_viewer_cannot_write_and_is_told_why(
    sqlite_server: LiveServer, role_tokens: dict[str, str], experiment: str
) -> None:
    headers = {"authorization": f"Bearer {role_tokens['viewer']}"}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", headers=headers) as http:
        answer = http.post("/runs", json={"experiment": experiment})
        assert answer.status_code == 403
        body = answer.json()
        assert body["error"] == "forbidden"
        assert "(viewer) may not POST /api/v1/runs: it needs the editor role" in body["detail"]
        assert "loopml auth principal create" in body["hint"]
        assert http.get("/runs", params={"experiment": experiment}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "bearer lml_",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer lml_" + "A" * 43,  # well formed, never issued
        "Bearer not-a-loopml-token",
        "Token lml_abc",
    ],
)
def test_requests_without_a_valid_token_are_401(
    sqlite_server: LiveServer, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    answer = httpx.get(sqlite_server.url + "/api/v1/runs", headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"


def test_a_revoked_token_is_refused_within_a_second(
    sqlite_server: LiveServer, role_tokens: dict[str, str]
) -> None:
    admin = {"authorization": f"Bearer {role_tokens['admin']}"}
    token = make_principal(sqlite_server, role_tokens["admin"], "leaver", "editor")
    mine = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", timeout=30) as http:
        assert http.get("/auth/whoami", headers=mine).json()["name"] == "leaver"
        token_id = http.get("/audit/events", headers=admin, params={"limit": 1000}).json()
        created = [
            e["details"]["token_id"]
            for e in token_id["events"]
            if e["action"] == "token.create" and e["object"] == "principal:leaver"
        ]
        revoked = http.delete(f"/auth/tokens/{created[-1]}", headers=admin)
        assert revoked.status_code == 200, revoked.text
        revoked_at = time.monotonic()
        while http.get("/auth/whoami", headers=mine).status_code == 200:
            assert time.monotonic() - revoked_at < 1.5, "the revoked token still works"
            time.sleep(0.05)
        answer = http.post("/runs", headers=mine, json={})
        assert answer.status_code == 401
        assert "unknown or revoked" in answer.json()["detail"]


def test_an_expired_token_is_refused_at_once(
    sqlite_server: LiveServer, role_tokens: dict[str, str]
) -> None:
    admin = {"authorization": f"Bearer {role_tokens['admin']}"}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", timeout=30) as http:
        http.post("/auth/principals", headers=admin, json={"name": "brief", "role": "viewer"})
        answer = http.post(
            "/auth/principals/brief/tokens", headers=admin, json={"expires_in_s": 1.0}
        )
        token = answer.json()["token"]
        assert answer.headers["cache-control"] == "no-store"
        short = {"authorization": f"Bearer {token}"}
        assert http.get("/auth/whoami", headers=short).status_code == 200
        time.sleep(1.1)
        expired = http.get("/auth/whoami", headers=short)
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]


def test_an_editor_cannot_manage_principals_or_approve(
    sqlite_server: LiveServer, role_tokens: dict[str, str]
) -> None:
    editor = {"authorization": f"Bearer {role_tokens['editor']}"}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", headers=editor) as http:
        promoted = http.post("/auth/principals", json={"name": "mallory", "role": "admin"})
        assert promoted.status_code == 403
        assert http.post("/auth/principals/admin/tokens", json={}).status_code == 403
        assert http.post("/approvals/apr-1/approve", json={}).status_code == 403
        assert http.get("/auth/principals").status_code == 403


def test_first_start_prints_the_admin_token_once_and_no_token_reaches_a_log(
    tmp_path: Path,
) -> None:
    """Every kind of token is sent (valid, revoked, malformed, in the wrong place); then the
    server's own output, at debug level, holds only the first start's one line."""
    from tests.server.conftest import start_server

    server = start_server(tmp_path / "ws", None, "--log-level", "debug")
    try:
        admin = server.admin_token()
        editor = make_principal(server, admin, "ed", "editor")
        sent = [admin, editor, "lml_" + "Z" * 43, "lml_short"]
        with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as http:
            for token in sent:
                http.get("/runs", headers={"authorization": f"Bearer {token}"})
                http.post("/runs", headers={"authorization": f"Bearer {token}"}, content=b"{")
                http.get("/runs", params={"token": token})  # in the query string: not read
                http.get(f"/runs/{token}", headers={"authorization": f"Bearer {token}"})
            http.get("/auth/whoami", headers={"authorization": f"Bearer {editor}x"})
    finally:
        server.stop()
    restarted = LiveServer(server.root, server.port, server.env, server.args).start()
    restarted.stop()
    out, err = server.stdout(), server.stderr()
    assert out.count(admin) == 1, "the admin token is printed exactly once, by the first start"
    assert "GET /api/v1/runs" in err  # the requests were logged …
    for token in sent:
        assert token not in err, "a token reached the log"  # … their tokens were not
        if token != admin:
            assert token not in out
    assert editor[:12] not in err + out.replace(admin, "")
