"""The UI's pages of the loop beyond runs and models, in-process: monitoring (heat map,
charts, alerts and who may act on them), data (versions, profiles, diffs), pipelines and
triggers, and the home page's boxes."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from loopml.monitoring.alerts.service import Alert
from loopml.server.ui.heatmap import level
from loopml.store.schema import dataset_versions
from tests.server.ui.conftest import Workspace, csrf_of, sign_in

pytestmark = pytest.mark.anyio
MAX_PAGE_BYTES = 1_000_000


def _row(html: str, column: str) -> str:
    found = re.search(rf'<tr data-column="{re.escape(column)}">(.*?)</tr>', html, re.S)
    assert found is not None, f"no heat map row for {column}"
    return found.group(1)


def _open(workspace: Workspace, rule: str) -> Alert:
    alerts = workspace.local.monitors.alerts.list(workspace.seeded.loop.monitor, "open")
    return next(a for a in alerts if a.rule == rule)


async def test_the_monitor_page_draws_drift_quality_latency_and_alerts(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    monitor = workspace.seeded.loop.monitor
    await sign_in(http, workspace.tokens["viewer"])
    listed = await http.get("/ui/monitors")
    assert listed.status_code == 200
    assert f'href="/ui/monitors/{monitor}"' in listed.text
    page = await http.get(f"/ui/monitors/{monitor}")
    assert page.status_code == 200 and len(page.content) <= MAX_PAGE_BYTES
    html = page.text
    results = list(workspace.local.monitors.results(monitor))
    assert len(results) == 6
    for name in ("temp", "humidity", "wind", "site", "prediction"):
        cells = re.findall(r'<td class="([a-z0-9]+)" title="([^"]*)"', _row(html, name))
        stored = [r.window.drift.column(name) for r in results if r.window.drift]
        assert [c[0] for c in cells] == [level(s) for s in stored], name
        for (_, title), column in zip(cells, stored, strict=True):
            assert ("— drift" in title) == bool(column.drift), title
    temp = [r.window.drift.column("temp").drift for r in results if r.window.drift]
    assert temp[0] is False and temp[-1] is True  # the story the seed tells
    assert 'id="heat-legend"' in html and "drift, 4 times the threshold or more" in html
    assert html.count('data-column="temp"') >= 2  # a heat map row and a chart
    assert 'data-quality="r2"' in html and "estimated" in html and "data-latency" in html
    for state in ("open", "acknowledged", "resolved"):
        assert f'data-state="{state}"' in html, state


async def test_a_viewer_cannot_acknowledge_or_resolve_an_alert(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    monitor = workspace.seeded.loop.monitor
    alert = _open(workspace, "column_drift:temp")
    await sign_in(http, workspace.tokens["viewer"])
    page = await http.get(f"/ui/monitors/{monitor}")
    assert "/acknowledge" not in page.text and "/resolve" not in page.text
    assert "acknowledging and resolving alerts needs the editor role; you are viewer" in page.text
    csrf = csrf_of(page.text)
    posted = await http.post(f"/ui/alerts/{alert.id}/acknowledge", data={"csrf": csrf})
    assert posted.status_code == 403
    assert "viewer-ui (viewer) may not acknowledge alerts" in posted.text
    resolved = await http.post(
        f"/ui/alerts/{alert.id}/resolve", data={"csrf": csrf, "reason": "not me"}
    )
    assert resolved.status_code == 403
    assert "may not resolve alerts" in resolved.text
    after = workspace.local.monitors.alerts.get(alert.id)
    assert after.state == "open" and after.acknowledged_by is None


async def test_alert_forms_without_the_csrf_token_are_refused(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    alert = _open(workspace, "column_drift:temp")
    await sign_in(http, workspace.tokens["editor"])
    for verb in ("acknowledge", "resolve"):
        for data in ({}, {"csrf": "forged", "reason": "x"}):
            forged = await http.post(f"/ui/alerts/{alert.id}/{verb}", data=data)
            assert forged.status_code == 403
            assert "no valid CSRF token" in forged.text
    after = workspace.local.monitors.alerts.get(alert.id)
    assert after.state == "open" and after.acknowledged_by is None


async def test_an_editor_acknowledges_then_resolves_an_alert(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    monitor = workspace.seeded.loop.monitor
    alert = _open(workspace, "column_drift:temp")
    await sign_in(http, workspace.tokens["editor"])
    page = await http.get(f"/ui/monitors/{monitor}")
    assert f"/ui/alerts/{alert.id}/acknowledge" in page.text
    csrf = csrf_of(page.text)
    done = await http.post(
        f"/ui/alerts/{alert.id}/acknowledge", data={"csrf": csrf, "comment": "on it"}
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/ui/monitors/{monitor}?done=acknowledged")
    assert workspace.local.monitors.alerts.get(alert.id).acknowledged_by == "editor-ui"
    shown = await http.get(f"/ui/monitors/{monitor}")
    assert f'data-alert="{alert.id}" data-state="acknowledged"' in shown.text
    no_reason = await http.post(f"/ui/alerts/{alert.id}/resolve", data={"csrf": csrf})
    assert no_reason.status_code == 422
    assert "say why the alert is resolved" in no_reason.text
    too_long = await http.post(
        f"/ui/alerts/{alert.id}/resolve", data={"csrf": csrf, "reason": "x" * 2001}
    )
    assert too_long.status_code == 422
    assert workspace.local.monitors.alerts.get(alert.id).state == "open"
    closed = await http.post(
        f"/ui/alerts/{alert.id}/resolve", data={"csrf": csrf, "reason": "a heat wave"}
    )
    assert closed.status_code == 303
    assert workspace.local.monitors.alerts.get(alert.id).state == "resolved"
    again = await http.post(
        f"/ui/alerts/{alert.id}/resolve", data={"csrf": csrf, "reason": "twice"}
    )
    assert again.status_code == 409 and "already resolved" in again.text
    unknown = await http.post("/ui/alerts/alert-nothing/acknowledge", data={"csrf": csrf})
    assert unknown.status_code == 404
    actions = [e.action for e in workspace.local.audit.events(f"monitor:{monitor}")]
    assert "alert.acknowledge" in actions and "alert.resolve" in actions


async def test_monitor_page_refusals(http: httpx.AsyncClient, workspace: Workspace) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    missing = await http.get("/ui/monitors/nothing")
    assert missing.status_code == 404 and "nothing" in missing.text
    bad_page = await http.get(f"/ui/monitors/{workspace.seeded.loop.monitor}?page=garbage")
    assert bad_page.status_code == 422 and "page_token" in bad_page.text


async def test_data_pages_show_versions_profiles_and_a_diff(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    name = workspace.seeded.loop.dataset
    await sign_in(http, workspace.tokens["viewer"])
    listed = await http.get("/ui/data")
    assert listed.status_code == 200
    assert f'<a href="/ui/data/{name}">{name}</a></td><td class="num">3</td>' in listed.text
    versions = await http.get(f"/ui/data/{name}")
    assert versions.status_code == 200
    assert versions.text.count("<tr data-version=") == 3
    second = await http.get(f"/ui/data/{name}/2")
    assert second.status_code == 200
    version = workspace.local.datasets.get(f"{name}@2")
    for column in version.columns:
        assert f'<tr data-column="{column}">' in second.text
    assert 'figure class="chart" data-chart data-column="temp"' in second.text
    assert "<meter" in second.text  # the top sites of the categorical column
    assert f'href="/ui/data/{name}/1">dataset:{name}@1</a>' in second.text  # the parent
    diff = await http.get(f"/ui/data/{name}/diff", params={"old": "1", "new": "3"})
    assert diff.status_code == 200 and len(diff.content) <= MAX_PAGE_BYTES
    old, new = workspace.local.datasets.get(f"{name}@1"), workspace.local.datasets.get(f"{name}@3")
    assert (
        f"Rows: {old.row_count} → {new.row_count} <strong>({new.row_count - old.row_count:+d})"
        in diff.text
    )
    assert "new: d" in diff.text  # site d appears in v3
    assert '"label":"v1"' in diff.text and '"label":"v3"' in diff.text  # overlaid charts
    default = await http.get(f"/ui/data/{name}/diff")
    assert "v2</a> → <a" in default.text  # latest against the one before


async def test_data_page_refusals(http: httpx.AsyncClient, workspace: Workspace) -> None:
    name = workspace.seeded.loop.dataset
    await sign_in(http, workspace.tokens["viewer"])
    cases = {
        f"/ui/data/{name}/diff?old=2&new=2": (422, "two different versions"),
        f"/ui/data/{name}/diff?old=x&new=2": (422, "by its number"),
        f"/ui/data/{name}/diff?old=1&new=99": (404, "versions 1 to 3"),
        f"/ui/data/{name}/99": (404, "versions 1 to 3"),
        "/ui/data/nothing": (404, "no dataset version"),
        "/ui/data?page=garbage": (422, "page_token"),
    }
    for url, (status, message) in cases.items():
        answer = await http.get(url)
        assert answer.status_code == status, (url, answer.status_code)
        assert message in answer.text, url


async def test_pipelines_page_shows_steps_cache_and_what_triggers_fired(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    loop = workspace.seeded.loop
    await sign_in(http, workspace.tokens["viewer"])
    page = await http.get("/ui/pipelines")
    assert page.status_code == 200 and len(page.content) <= MAX_PAGE_BYTES
    runs = workspace.local.pipelines.runs(loop.pipeline)
    assert len(runs) == 2
    for run in runs:
        section = page.text.split(f'data-pipeline-run="{run.run_id}"')[1].split("</section>")[0]
        assert section.count("<tr data-step=") == run.steps
        assert section.count('data-cached="true"') == run.cached
    newest = runs[0]
    assert newest.cached == 1  # `load` came from the first run's cache
    [event] = workspace.local.triggers.events(loop.trigger)
    assert event.pipeline_run_id == newest.run_id
    assert f'<tr data-event="{event.id}">' in page.text
    assert f'<tr data-trigger="{loop.trigger}">' in page.text
    none = await http.get("/ui/pipelines", params={"pipeline": "other"})
    assert "No pipeline runs of other" in none.text
    bad = await http.get("/ui/pipelines", params={"pipeline": "no way"})
    assert bad.status_code == 422


async def test_home_boxes_link_to_their_pages(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    home = await http.get("/ui/")
    for target in (
        "/ui/data",
        "/ui/pipelines",
        "/ui/runs",
        "/ui/models",
        "/ui/deployments",
        "/ui/monitors",
        "/ui/pipelines#triggers",
        "/ui/audit",
    ):
        assert f'<h2><a href="{target}">' in home.text, target
    loop = workspace.seeded.loop
    assert f'href="/ui/data/{loop.dataset}/3"' in home.text
    assert f'href="/ui/monitors/{loop.monitor}#alerts"' in home.text
    assert "acknowledged by editor-ui" in home.text
    for target in re.findall(r'href="(/ui/[^"#?]*)', home.text):
        answer = await http.get(target)
        assert answer.status_code == 200, target


async def test_home_shows_the_newest_dataset_among_thousands(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    """Older versions that sort first by name once hid the newest from the home page."""
    now = time.time() - 86_400
    rows = [
        {
            "id": f"ds-{i:024x}",
            "name": "aaa-archive",
            "version": i + 1,
            "content_hash": f"blake3:{i:064x}",
            "format": "parquet",
            "layout": "file",
            "storage": {"files": []},
            "schema": [],
            "row_count": 0,
            "size": 0,
            "profile": {},
            "created_by": "test",
            "created_at": now + i,
        }
        for i in range(1200)
    ]
    with workspace.local.stores.engine.begin() as conn:
        conn.execute(dataset_versions.insert(), rows)
    await sign_in(http, workspace.tokens["viewer"])
    home = await http.get("/ui/")
    data_box = home.text.split('data-stage="data"')[1].split("</section>")[0]
    first = re.search(r'href="/ui/data/([^"]+)"', data_box)
    assert first is not None and first.group(1) == f"{workspace.seeded.loop.dataset}/3"
    listed = await http.get("/ui/data")
    assert (
        '<a href="/ui/data/aaa-archive">aaa-archive</a></td><td class="num">1200</td>'
        in listed.text
    )
