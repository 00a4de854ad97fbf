"""`loopml monitor results` and `loopml monitor alerts`: a monitor's stored outcomes, paged."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.monitor_views import alerts_table, results_table
from loopml.cli.paging import AllPages, Limit, PageToken, more_note, pages, print_json_pages
from loopml.cli.render import console
from loopml.monitoring.alerts import Alert
from loopml.monitoring.records import StoredResult
from loopml.store.paging import Page

NAME_HELP = "The monitor's name."
JSON_HELP = "Print JSON instead of tables."
RESULTS_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml monitor results bikes-drift\n"
    "  loopml monitor results bikes-drift --newest --limit 10\n"
    "  loopml monitor results bikes-drift --all --json"
)
ALERTS_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml monitor alerts\n"
    "  loopml monitor alerts bikes-drift --all\n"
    "  loopml monitor alerts --limit 20 --page-token eyJs…"
)


def results(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    newest: Annotated[bool, typer.Option("--newest", help="Newest first.")] = False,
    limit: Limit = 50,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """A monitor's stored results (one per window), oldest first, a page at a time."""
    service = client_of(ctx).monitors

    def fetch(size: int, token: str | None) -> Page[StoredResult]:
        return service.results(name, max_results=size, page_token=token, newest_first=newest)

    walked = pages(fetch, limit, page_token, every)
    if as_json:
        print_json_pages(walked, lambda _, r: r.to_dict(), "results")
        return
    out = console()
    for number, page in enumerate(walked):
        if number == 0 and not page and page_token is None:
            out.print(f"{name}: no results yet; run it with `loopml monitor run {name}`")
            return
        if page:
            out.print(results_table(page))
        note = None if every else more_note(page, "results")
        if note:
            out.print(note, soft_wrap=True)


def alerts(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only this monitor's alerts.", metavar="[NAME]")
    ] = None,
    all_states: Annotated[bool, typer.Option("--all", help="Resolved alerts too.")] = False,
    limit: Limit = 50,
    page_token: PageToken = None,
    every: Annotated[
        bool, typer.Option("--all-pages", help="Print every page, one after the other.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Open alerts (or all with --all), newest first, a page at a time."""
    service = client_of(ctx).monitors
    if name is not None:
        service.get(name)
    state = None if all_states else "open"

    def fetch(size: int, token: str | None) -> Page[Alert]:
        return service.alerts.list(monitor=name, state=state, max_results=size, page_token=token)

    walked = pages(fetch, limit, page_token, every)
    if as_json:
        print_json_pages(walked, lambda _, a: a.to_dict(), "alerts")
        return
    for number, page in enumerate(walked):
        if number == 0 and not page and page_token is None:
            console().print("no open alerts" if not all_states else "no alerts")
            return
        if page:
            console().print(alerts_table(page))
        note = None if every else more_note(page, "alerts")
        if note:
            console().print(note.replace("--all ", "--all-pages "), soft_wrap=True)
