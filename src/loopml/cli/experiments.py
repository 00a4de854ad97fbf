"""`loopml experiments …`: the experiments runs are grouped in."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli.context import client_of
from loopml.cli.render import console, print_json
from loopml.cli.runs_views import experiment_table

experiments_app = typer.Typer(
    help="List the experiments that group your runs.",
    no_args_is_help=True,
)


@experiments_app.command("list", epilog="[bold]Example[/bold]\n\n  loopml experiments list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List experiments with their number of runs."""
    experiments = client_of(ctx).runs.list_experiments()
    if as_json:
        print_json(experiments)
    elif not experiments:
        console().print("no experiments yet; runs create them (loopml.start_run('name'))")
    else:
        console().print(experiment_table(experiments))
