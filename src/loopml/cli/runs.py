"""`loopml runs …`: find, inspect and compare tracked runs."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli import runs_views
from loopml.cli.context import client_of
from loopml.cli.render import console, print_json
from loopml.errors import ValidationError
from loopml.tracking.search import parse_order_by

runs_app = typer.Typer(
    help="Find, inspect and compare the runs of your experiments.",
    no_args_is_help=True,
)

FILTER_HELP = (
    "Only runs matching this condition, e.g. \"metrics.rmse < 3 and params.model = 'gbm'\". "
    "Keys: metrics.K, params.K, tags.K, status, name, run_id, start_time, end_time."
)


@runs_app.command(
    "list",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml runs list --experiment bikes\n"
        "  loopml runs list --filter \"metrics.rmse < 40 and status = 'FINISHED'\"\n"
        "  loopml runs list --order-by 'metrics.rmse ASC' --max 5"
    ),
)
def list_(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Only runs of this experiment (repeatable)."),
    ] = None,
    filter_: Annotated[str | None, typer.Option("--filter", "-f", help=FILTER_HELP)] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            help="Sort key with optional ASC/DESC, e.g. 'metrics.rmse ASC' (repeatable). "
            "Default: newest first.",
        ),
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="Show at most N runs.")] = 50,
    page_token: Annotated[
        str | None,
        typer.Option("--page-token", help="Continue after the page that printed this token."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List runs, newest first, with their key params and metrics."""
    found = client_of(ctx).runs.search_runs(experiment, filter_, order_by, max_results, page_token)
    if as_json:
        print_json([run.to_dict() for run in found])
        return
    out = console()
    if not found:
        out.print("no runs match" if experiment or filter_ else "no runs yet")
        return
    columns = runs_views.key_columns(found, [parse_order_by(item) for item in order_by or []])
    out.print(runs_views.run_table(found, columns, out.width))
    if found.next_page_token is not None:
        out.print(
            f"showing the first {len(found)} runs; more match: raise --max or add --filter; "
            f"next page: --page-token {found.next_page_token}"
        )


@runs_app.command(
    "show",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml runs show run:3f9c2a1b\n"
        "  loopml runs show 3f9c2a1b --json"
    ),
)
def show(
    ctx: typer.Context,
    run: Annotated[
        str, typer.Argument(help="Run id: run:3f9c2a1b, run-3f9c2a1b or 3f9c2a1b.", metavar="RUN")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Show one run: params, latest metrics, tags, inputs, artifacts, code and environment."""
    runs = client_of(ctx).runs
    record = runs.get_run(run)
    artifacts = runs.list_artifacts(record.id)
    if as_json:
        print_json({**record.to_dict(), "uri": record.uri, "artifacts": artifacts})
        return
    out = console()
    out.print(runs_views.info(record))
    for part in runs_views.details(record, artifacts):
        out.print()
        out.print(part)


@runs_app.command(
    "compare",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml runs compare run:3f9c2a1b run:7d01e4c2\n"
        "  loopml runs compare 3f9c2a1b 7d01e4c2 a4b5c6d7 --only-differences"
    ),
)
def compare(
    ctx: typer.Context,
    runs: Annotated[list[str], typer.Argument(help="Two or more run ids.", metavar="RUN")],
    only_differences: Annotated[
        bool, typer.Option("--only-differences", help="Hide rows where every run agrees.")
    ] = False,
) -> None:
    """Compare runs side by side: one column per run, one row per param and metric.

    Rows whose values differ between the runs are starred and highlighted.
    """
    if len(runs) < 2:
        raise ValidationError(f"runs compare needs at least two runs, got {len(runs)}")
    found = client_of(ctx).runs
    records = [found.get_run(run) for run in runs]
    console().print(runs_views.comparison(records, only_differences))
