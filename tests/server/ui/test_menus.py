"""The runs page's experiment menu: read again when stale or missing what a page asks
for, shared otherwise (counting every experiment's runs reads the whole runs table)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from loopml.server.ui.menus import ExperimentMenu
from tests.server.ui.conftest import Workspace, sign_in


class Reads:
    """A menu source that says how often it was read."""

    def __init__(self) -> None:
        self.count = 0
        self.names = ["a"]

    def __call__(self) -> list[dict[str, Any]]:
        self.count += 1
        return [{"name": n, "runs": self.count} for n in self.names]


def test_the_menu_is_read_once_while_fresh() -> None:
    menu, reads = ExperimentMenu(ttl_s=60), Reads()
    first = menu.get(reads)
    assert menu.get(reads) is first and menu.get(reads, ["a"]) is first
    assert reads.count == 1


def test_a_stale_menu_or_a_missing_experiment_reads_again() -> None:
    menu, reads = ExperimentMenu(ttl_s=60), Reads()
    menu.get(reads)
    reads.names.append("b")
    assert [e["name"] for e in menu.get(reads, ["b"])] == ["a", "b"]
    assert reads.count == 2
    quick = ExperimentMenu(ttl_s=0.05)
    quick.get(reads)
    time.sleep(0.06)
    assert quick.get(reads)[0]["runs"] == 4  # read again: the counts move on
    assert reads.count == 4


@pytest.mark.anyio
async def test_a_new_experiment_is_in_the_menu_of_a_page_filtering_on_it(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    await sign_in(http, workspace.tokens["viewer"])
    before = await http.get("/ui/runs")
    assert 'value="brand-new"' not in before.text
    with workspace.local.start_run("brand-new", "one", capture_code=False) as run:
        run.log_metric("loss", 0.5)
    page = await http.get("/ui/runs", params={"experiment": "brand-new"})
    assert page.status_code == 200
    assert '<option value="brand-new" selected>brand-new (1)</option>' in page.text
    assert page.text.count("<tr data-run=") == 1
