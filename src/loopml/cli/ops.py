"""`loopml ops export`: Prometheus alerting rules and a Grafana dashboard for SRE teams."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from loopml.cli.render import console
from loopml.ops import export_ops

ops_app = typer.Typer(
    help="Files for the teams that run loopml: alerting rules and dashboards.",
    no_args_is_help=True,
)


@ops_app.command(
    "export",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml ops export --out ops/\n"
        "  loopml ops export --out /etc/prometheus/rules --serving-job ml-serving "
        "--server-job ml-control"
    ),
)
def ops_export(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into (created).")],
    serving_job: Annotated[
        str, typer.Option("--serving-job", help="Prometheus job scraping `loopml serve`.")
    ] = "loopml-serve",
    server_job: Annotated[
        str, typer.Option("--server-job", help="Prometheus job scraping `loopml server`.")
    ] = "loopml-server",
) -> None:
    """Write Prometheus alerting rules (YAML) and a Grafana dashboard (JSON) for the
    serving and control-plane metrics on `/metrics`. Needs no workspace."""
    files = export_ops(out, serving_job=serving_job, server_job=server_job)
    show = console()
    show.print(Text.assemble(("wrote ", "green"), str(files.rules), f" ({files.alerts} alerts)"))
    show.print(
        Text.assemble(("wrote ", "green"), str(files.dashboard), f" ({files.panels} panels)")
    )
    show.print(Text(f"check:  promtool check rules {files.rules}", style="dim"))
