"""The UI's pages in-process, without a browser: sign-in, the session cookie, CSRF, roles,
and every refusal a page gives (what is wrong, shown on the page with its status)."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from loopml.server.ui.render import HEADERS
from loopml.server.ui.session import SESSION_COOKIE, SessionSigner
from tests.server.ui.conftest import Workspace, csrf_of, sign_in

pytestmark = pytest.mark.anyio


async def test_pages_need_a_session_and_login_comes_back(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    answer = await http.get("/ui/runs?filter=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=" + quote("/ui/runs?filter=x", safe="")
    signed = await sign_in(http, workspace.tokens["viewer"])
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert SESSION_COOKIE in cookie
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/ui"):
        assert flag.lower() in cookie.lower()
    assert workspace.tokens["viewer"] not in cookie  # encoded, never in clear
    home = await http.get("/ui/")
    assert home.status_code == 200
    assert "viewer-ui · viewer" in home.text
    for name, value in HEADERS.items():
        assert home.headers[name] == value


async def test_login_refusals(http: httpx.AsyncClient, workspace: Workspace) -> None:
    form = await http.get("/ui/login")
    csrf = csrf_of(form.text)
    bad = await http.post("/ui/login", data={"csrf": csrf, "token": "lml_" + "x" * 40})
    assert bad.status_code == 401
    assert "this token was refused" in bad.text
    empty = await http.post("/ui/login", data={"csrf": csrf_of(bad.text), "token": ""})
    assert empty.status_code == 400
    assert "paste an API token" in empty.text
    http.cookies.clear()  # a cross-site page knows no login cookie
    forged = await http.post(
        "/ui/login", data={"csrf": csrf_of(empty.text), "token": workspace.tokens["admin"]}
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    as_json = await http.post("/ui/login", json={"token": workspace.tokens["admin"]})
    assert as_json.status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/api/v1/runs"])
async def test_login_never_redirects_off_the_ui(
    http: httpx.AsyncClient, workspace: Workspace, target: str
) -> None:
    form = await http.get("/ui/login?next=" + quote(target, safe=""))
    signed = await http.post(
        "/ui/login",
        data={"csrf": csrf_of(form.text), "token": workspace.tokens["viewer"], "next": target},
    )
    assert signed.headers["location"] == "/ui/"


async def test_altered_or_foreign_cookies_are_not_sessions(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    cookie = http.cookies[SESSION_COOKIE]
    encoded, issued, nonce, mac = cookie.split(".")
    admin = SessionSigner(b"k" * 32).open(workspace.tokens["admin"])  # another key
    for forged in (f"{encoded}.{int(issued) + 1}.{nonce}.{mac}", admin, "garbage"):
        http.cookies.clear()
        http.cookies.set(SESSION_COOKIE, forged, domain="ui.test", path="/ui")
        answer = await http.get("/ui/models", follow_redirects=False)
        assert answer.status_code == 303, forged
        assert answer.headers["location"].startswith("/ui/login")


async def test_a_revoked_token_ends_the_session(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["approver"])
    assert (await http.get("/ui/models")).status_code == 200
    identity = workspace.local.models.identity
    token_id = identity.token_id(workspace.tokens["approver"])
    assert token_id is not None
    identity.revoke_token(token_id)
    answer = await http.get("/ui/models", follow_redirects=False)
    assert answer.status_code == 303
    assert (
        "session+ended" in answer.headers["location"]
        or "session%20ended" in answer.headers["location"]
    )
    assert f'{SESSION_COOKIE}=""' in answer.headers["set-cookie"]


async def test_forms_without_the_csrf_token_are_refused(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["approver"])
    request_id = workspace.seeded.request_id
    for data in ({}, {"csrf": "wrong"}, {"csrf": ""}):
        forged = await http.post(f"/ui/approvals/{request_id}/approve", data=data)
        assert forged.status_code == 403
        assert "no valid CSRF token" in forged.text
    logout = await http.post("/ui/logout", data={})
    assert logout.status_code == 403
    assert workspace.local.models.approvals.get(request_id).status == "PENDING"


async def test_a_viewer_sees_no_buttons_and_is_refused_by_the_service(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    page = await http.get("/ui/models/bikes")
    assert page.status_code == 200
    assert "/approve" not in page.text
    assert "deciding needs the approver role; you are viewer" in page.text
    request_id = workspace.seeded.request_id
    posted = await http.post(
        f"/ui/approvals/{request_id}/approve", data={"csrf": csrf_of(page.text)}
    )
    assert posted.status_code == 403
    assert "viewer-ui (viewer) may not decide request" in posted.text
    assert workspace.local.models.approvals.get(request_id).status == "PENDING"


async def test_an_approver_approves_and_the_alias_moves(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["approver"])
    page = await http.get("/ui/models/bikes")
    assert 'data-alias="champion"' in page.text
    request_id = workspace.seeded.request_id
    done = await http.post(
        f"/ui/approvals/{request_id}/approve",
        data={"csrf": csrf_of(page.text), "comment": "looks right"},
    )
    assert done.status_code == 303, done.text[-800:]
    assert workspace.local.models.registry.get_model("bikes").aliases["champion"] == 2
    again = await http.post(
        f"/ui/approvals/{request_id}/approve", data={"csrf": csrf_of(page.text)}
    )
    assert again.status_code == 409
    assert "already" in again.text


async def test_runs_page_refusals_name_the_problem(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    cases = {
        "/ui/runs?filter=bogus+%3D+1": "unknown attribute",
        "/ui/runs?size=7": "page size must be one of",
        "/ui/runs?metrics=" + ",".join(f"m{i}" for i in range(21)): "at most 20 metric",
        "/ui/runs?metrics=bad%3Ckey": "metric",
    }
    for url, message in cases.items():
        answer = await http.get(url)
        assert answer.status_code == 400, url
        assert message in answer.text, url
    one = workspace.seeded.run_ids[0]
    assert (await http.get(f"/ui/compare?run={one}")).status_code == 422
    many = "&".join(f"run=r{i}" for i in range(11))
    assert "choose 2 to 10 runs" in (await http.get(f"/ui/compare?{many}")).text
    missing = await http.get(f"/ui/runs/{one}/artifacts/nothing.txt")
    assert missing.status_code == 404
    assert (await http.get("/ui/runs/run-000000000000")).status_code == 404


async def test_runs_table_filters_sorts_and_chooses_columns(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    page = await http.get(
        "/ui/runs",
        params={
            "experiment": "tuning",
            "filter": "metrics.loss < 0.7",
            "order": "metrics.loss ASC",
            "metrics": "loss",
            "params": "lr",
            "size": "25",
        },
    )
    assert page.status_code == 200
    names = [line.split(">")[1].split("<")[0] for line in page.text.split('<a href="/ui/runs/')[1:]]
    expected = [
        r.name
        for r in workspace.local.search_runs(
            "tuning", "metrics.loss < 0.7", "metrics.loss ASC", max_results=25
        )
    ]
    assert names == expected and len(expected) >= 2


async def test_static_assets_ship_with_the_package(http: httpx.AsyncClient) -> None:
    for path in ("vendor/uplot/uPlot.iife.min.js", "vendor/uplot/LICENSE", "ui.js", "ui.css"):
        answer = await http.get(f"/ui/static/{path}")
        assert answer.status_code == 200, path
        assert answer.content
    assert "MIT License" in (await http.get("/ui/static/vendor/uplot/LICENSE")).text


async def test_deployment_pages(http: httpx.AsyncClient, workspace: Workspace) -> None:
    workspace.local.deployments.create("bikes-api", "model:bikes/1")
    await sign_in(http, workspace.tokens["viewer"])
    listed = await http.get("/ui/deployments")
    assert listed.status_code == 200
    assert "/ui/deployments/bikes-api" in listed.text
    one = await http.get("/ui/deployments/bikes-api")
    assert one.status_code == 200
    assert 'data-route="bikes/1"' in one.text
    missing = await http.get("/ui/deployments/nothing")
    assert missing.status_code == 404
    assert "nothing" in missing.text


async def test_the_mount_point_leads_to_the_home_page(http: httpx.AsyncClient) -> None:
    answer = await http.get("/ui", follow_redirects=True)
    assert answer.status_code == 200
    assert str(answer.url).endswith("/ui/login?next=%2Fui%2F")
