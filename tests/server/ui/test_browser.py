"""The UI in a real browser: headless Chromium (the Debian package) driven by Playwright
against a live `loopml server`. Every page must load without a console error or a failed
request; each test writes screenshots (copied to UI_SCREENSHOT_DIR when it is set)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loopml.deployments import Route
from tests.conftest import unavailable
from tests.server.conftest import start_server
from tests.server.live import LiveServer
from tests.server.ui.conftest import owner_client
from tests.server.ui.seed import Seeded

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Live:
    server: LiveServer
    seeded: Seeded
    shots: Path


@dataclass
class Watched:
    """A page whose console errors and failed requests are collected."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.problems, "the browser reported: " + "; ".join(self.problems)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if importlib.util.find_spec("playwright") is None:
        unavailable("playwright is not installed: pip install -e '.[dev]'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, seeded_template: tuple[Path, Seeded]
) -> Iterator[Live]:
    template, seeded = seeded_template
    root = tmp_path_factory.mktemp("ui-live") / "ws"
    shutil.copytree(template, root)
    server = start_server(root)
    shots = tmp_path_factory.mktemp("screenshots")
    yield Live(server, seeded, shots)
    server.stop()
    published = os.environ.get("UI_SCREENSHOT_DIR")
    if published:
        Path(published).mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, Path(published) / shot.name)


def _watch(page: Page) -> Watched:
    watched = Watched(page)

    def on_console(message: Any) -> None:
        if message.type == "error":
            watched.problems.append(f"console: {message.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            watched.problems.append(f"{response.status} {response.url}")

    def on_failed(request: Any) -> None:
        # a reload cancels the favicon's request (net::ERR_ABORTED): not a failure of a page
        if request.url.endswith("/favicon.svg") and "ABORTED" in (request.failure or ""):
            return
        watched.problems.append(f"failed {request.url}: {request.failure}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: on_failed(request))
    page.on("response", on_response)
    return watched


@pytest.fixture
def open_as(browser: Browser, live: Live) -> Iterator[Any]:
    """`open_as(token)`: a new browser context signed in through the login form."""
    contexts = []

    def sign_in(token: str) -> Watched:
        context = browser.new_context(viewport={"width": 1366, "height": 860})
        contexts.append(context)
        watched = _watch(context.new_page())
        page = watched.page
        page.goto(f"{live.server.url}/ui/")
        assert page.url.startswith(f"{live.server.url}/ui/login")
        page.fill("#token", token)
        page.click("section.login button[type=submit]")
        page.wait_for_url(f"{live.server.url}/ui/")
        return watched

    yield sign_in
    for context in contexts:
        context.close()


def _shot(live: Live, page: Page, name: str) -> None:
    page.screenshot(path=str(live.shots / f"{name}.png"), full_page=True)


def _column(page: Page, index: int) -> list[float]:
    cells = page.locator(f"table.runs tbody tr td:nth-child({index})").all_inner_texts()
    return [float(c) for c in cells]


def test_sign_in_filter_and_sort_the_runs_table(open_as: Any, live: Live) -> None:
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    assert "viewer-ui · viewer" in page.inner_text("[data-testid=me]")
    _shot(live, page, "home")
    page.click("nav >> text=Runs")
    page.fill("input[name=filter]", "metrics.loss < 0.7")
    page.fill("input[name=metrics]", "loss,acc")
    page.click("#runs-query button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("table.runs tbody tr").count() == 3
    page.click("th a[data-sort='metrics.loss']")  # descending first
    page.wait_for_url("**order=metrics.loss+DESC**")
    losses = _column(page, 6)
    assert losses == sorted(losses, reverse=True) and len(losses) == 3
    page.click("th a[data-sort='metrics.loss']")
    page.wait_for_url("**order=metrics.loss+ASC**")
    assert _column(page, 6) == sorted(losses)
    _shot(live, page, "runs")
    watched.assert_clean()


def test_compare_two_runs_draws_both_curves(open_as: Any, live: Live) -> None:
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    page.goto(f"{live.server.url}/ui/runs?experiment=tuning")
    boxes = page.locator("table.runs tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare button[type=submit]")
    page.wait_for_url("**/ui/compare?**")
    chart = page.locator("figure[data-chart]", has_text="loss").first
    chart.locator("canvas").wait_for()
    assert chart.get_attribute("data-drawn") == "2"
    legend = chart.locator(".u-legend .u-series").all_inner_texts()
    assert sum("lr-" in label for label in legend) == 2
    assert page.locator("table.compare tr.differs", has_text="lr").count() == 1
    _shot(live, page, "compare")
    page.click("ul.legend a >> nth=0")
    page.locator("figure[data-chart] canvas").first.wait_for()
    assert page.locator("figure[data-chart][data-drawn='1']").count() == 2
    _shot(live, page, "run")
    watched.assert_clean()


def test_an_approver_approves_and_the_alias_moves(open_as: Any, live: Live) -> None:
    watched = open_as(live.seeded.tokens["approver"])
    page = watched.page
    page.goto(f"{live.server.url}/ui/models/bikes")
    alias = page.locator("[data-alias=champion] strong")
    assert alias.inner_text() == "1"
    row = page.locator(f"tr[data-request='{live.seeded.request_id}']")
    row.locator("input[name=comment]").fill("fits better")
    _shot(live, page, "model")
    row.locator("button.approve").click()
    page.wait_for_url("**done=approved**")
    assert page.locator("[data-alias=champion] strong").inner_text() == "2"
    assert "APPROVED" in page.locator(f"tr[data-request='{live.seeded.request_id}']").inner_text()
    watched.assert_clean()


def test_a_viewer_finds_no_button_and_a_direct_post_is_refused(open_as: Any, live: Live) -> None:
    owner = owner_client(live.server.root)
    try:
        owner.login(live.seeded.tokens["editor"])
        request = owner.models.approvals.request("bikes/2", "staging", "try it")
    finally:
        owner.close()
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    page.goto(f"{live.server.url}/ui/models/bikes")
    row = page.locator(f"tr[data-request='{request.id}']")
    assert row.locator("button").count() == 0
    assert "needs the approver role" in row.inner_text()
    csrf = page.locator("header input[name=csrf]").get_attribute("value")
    url = f"{live.server.url}/ui/approvals/{request.id}/approve"
    with_token = page.request.post(url, form={"csrf": str(csrf)})
    assert with_token.status == 403
    assert "may not decide request" in with_token.text()
    forged = page.request.post(url, form={"comment": "no token"})
    assert forged.status == 403
    assert "no valid CSRF token" in forged.text()
    page.reload()
    assert "PENDING" in page.locator(f"tr[data-request='{request.id}']").inner_text()
    watched.assert_clean()


def test_a_revoked_token_signs_the_browser_out(open_as: Any, live: Live) -> None:
    owner = owner_client(live.server.root)
    try:
        token = owner.models.identity.create_token("approver-ui", label="revoked in a test")
        watched = open_as(token)
        token_id = owner.models.identity.token_id(token)
        assert token_id is not None
        owner.models.identity.revoke_token(token_id)
    finally:
        owner.close()
    time.sleep(1.2)  # the server rechecks a token at most token_check_interval_s late
    page = watched.page
    page.goto(f"{live.server.url}/ui/models")
    assert page.url.startswith(f"{live.server.url}/ui/login")
    assert "your session ended" in page.inner_text("p.notice")
    watched.assert_clean()


def test_audit_chain_verifies(open_as: Any, live: Live) -> None:
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    page.click("nav >> text=Audit")
    page.fill("input[name=object]", "model:bikes")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**object=model%3Abikes**")
    assert page.locator("table.audit tbody tr").count() >= 2
    page.click("text=Verify the chain")
    assert "Chain verified" in page.inner_text("[data-testid=verify]")
    _shot(live, page, "audit")
    watched.assert_clean()


def test_a_canary_split_changes_on_the_deployment_page(open_as: Any, live: Live) -> None:
    owner = owner_client(live.server.root)
    try:
        # either version may hold champion, whichever test ran first: the owner overrides
        # the traffic policy
        why = "a browser test routes both versions"
        owner.deployments.create("bikes-api", "model:bikes/1", override_reason=why)
        watched = open_as(live.seeded.tokens["viewer"])
        page = watched.page
        page.goto(f"{live.server.url}/ui/deployments/bikes-api")
        assert page.locator("[data-route='bikes/1'] td.num").inner_text() == "100"
        owner.deployments.update(
            "bikes-api",
            [Route("bikes", 1, 90.0), Route("bikes", 2, 10.0)],
            strategy="canary",
            reason="canary 10 %",
            override_reason=why,
        )
    finally:
        owner.close()
    page.reload()
    assert page.locator("[data-route='bikes/1'] td.num").inner_text() == "90"
    assert page.locator("[data-route='bikes/2'] td.num").inner_text() == "10"
    assert "canary 10 %" in page.inner_text("main")
    _shot(live, page, "deployment")
    page.click("nav >> text=Deployments")
    assert "bikes-api" in page.inner_text("main")
    watched.assert_clean()


def test_a_monitors_drift_heat_map_and_an_editor_acknowledging(open_as: Any, live: Live) -> None:
    loop = live.seeded.loop
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    page.click("nav >> text=Monitoring")
    _shot(live, page, "monitors")
    page.click(f"table[data-testid=monitors] >> text={loop.monitor}")
    page.wait_for_url(f"**/ui/monitors/{loop.monitor}")
    heat = page.locator("table[data-testid=heatmap]")
    assert heat.locator("thead th").count() == 1 + 6  # the column names, six windows
    temp = heat.locator("tr[data-column=temp] td")
    assert temp.count() == 6
    titles = [temp.nth(i).get_attribute("title") or "" for i in range(6)]
    assert "no drift" in titles[0] and titles[-1].endswith("— drift")
    assert "h5" in (temp.nth(5).get_attribute("class") or "")  # far past its threshold
    column_chart = page.locator("figure[data-chart][data-column=temp]")
    column_chart.locator("canvas").wait_for()
    assert column_chart.get_attribute("data-drawn") == "2"  # statistic and threshold
    rmse = page.locator("figure[data-quality=rmse]")
    assert rmse.get_attribute("data-drawn") == "4"  # realized, estimated and its band
    assert page.locator("figure[data-quality=r2]").get_attribute("data-drawn") == "1"
    assert page.locator("figure[data-latency]").get_attribute("data-drawn") == "3"
    assert page.locator("table[data-testid=alerts] button").count() == 0
    assert "needs the editor role" in page.inner_text("table[data-testid=alerts]")
    _shot(live, page, "monitor")
    watched.assert_clean()

    editor = open_as(live.seeded.tokens["editor"])
    page = editor.page
    page.goto(f"{live.server.url}/ui/monitors/{loop.monitor}#alerts")
    row = page.locator("tr[data-state=open]", has_text="temp").first
    alert_id = row.get_attribute("data-alert")
    row.locator("input[name=comment]").fill("checking the sensors")
    row.locator("button.acknowledge").click()
    page.wait_for_url("**done=acknowledged**")
    acknowledged = page.locator(f"tr[data-alert='{alert_id}']")
    assert acknowledged.get_attribute("data-state") == "acknowledged"
    assert "editor-ui" in acknowledged.inner_text()
    editor.assert_clean()


def test_the_data_pages_and_a_diff_between_versions(open_as: Any, live: Live) -> None:
    name = live.seeded.loop.dataset
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    page.click("nav >> text=Data")
    _shot(live, page, "data")
    page.click(f"table[data-testid=datasets] >> text={name}")
    page.wait_for_url(f"**/ui/data/{name}")
    assert page.locator("table[data-testid=versions] tbody tr").count() == 3
    form = page.locator("form[data-testid=diff-form]")
    form.locator("input[name=old]").fill("1")
    form.locator("input[name=new]").fill("3")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/diff?old=1&new=3")
    assert "added" not in page.inner_text("[data-testid=diff-summary]")  # same columns
    assert page.locator("table[data-testid=diff] tr.differs").count() > 0
    chart = page.locator("figure[data-chart][data-column=temp]")
    chart.locator("canvas").wait_for()
    assert chart.get_attribute("data-drawn") == "2"  # v1 and v3 overlaid
    legend = chart.locator(".u-legend .u-series").all_inner_texts()
    assert any("v1" in label for label in legend) and any("v3" in label for label in legend)
    _shot(live, page, "data_diff")
    page.click("h1 >> text=v3")
    page.wait_for_url(f"**/ui/data/{name}/3")
    page.locator("figure[data-chart] canvas").first.wait_for()
    assert page.locator("table[data-testid=profile] tr[data-column=site] meter").count() >= 3
    _shot(live, page, "dataset_version")
    watched.assert_clean()


def test_the_pipelines_page_shows_steps_and_what_a_trigger_fired(open_as: Any, live: Live) -> None:
    loop = live.seeded.loop
    watched = open_as(live.seeded.tokens["viewer"])
    page = watched.page
    page.click("nav >> text=Pipelines")
    page.wait_for_url("**/ui/pipelines")
    runs = page.locator("section.pipeline-run")
    assert runs.count() == 2
    newest = runs.first
    assert newest.locator("tr[data-step=load][data-cached=true]").count() == 1
    assert newest.locator("tr[data-step=summarize][data-cached=false]").count() == 1
    assert runs.nth(1).locator("tr[data-cached=true]").count() == 0
    event = page.locator("table[data-testid=trigger-events] tbody tr").first
    assert "succeeded" in event.inner_text()
    assert loop.trigger in page.inner_text("table[data-testid=triggers]")
    _shot(live, page, "pipelines")
    run_id = newest.get_attribute("data-pipeline-run")
    event.locator("a[href*='/ui/runs/']").click()
    page.wait_for_url(f"**/ui/runs/{run_id}")
    watched.assert_clean()
