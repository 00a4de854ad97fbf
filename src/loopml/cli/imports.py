"""`loopml import …`: copy another tracking store into the workspace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loopml.cli.context import workspace_client_of
from loopml.cli.render import console, print_json
from loopml.imports.mlflow import ImportSummary, MlflowImporter, open_source

import_app = typer.Typer(
    help="Copy runs, artifacts and models from another tracking store.",
    no_args_is_help=True,
)
MLFLOW_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml import mlflow --from sqlite:///mlflow.db --artifact-root ./mlartifacts\n\n"
    "  loopml import mlflow --from postgresql://me@db/mlflow --artifact-root /srv/mlruns\n\n"
    "  loopml import mlflow --from http://mlflow.internal:5000"
)


@import_app.command("mlflow", epilog=MLFLOW_EPILOG)
def mlflow(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="MLflow tracking URI: sqlite:///…, postgresql://… or http(s)://host:port.",
        ),
    ],
    artifact_root: Annotated[
        Path | None,
        typer.Option(help="Folder of the MLflow artifacts (needed with a database URI)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Copy an MLflow store: experiments, runs (params, metric histories, tags, status,
    times, artifacts), registered models, versions and aliases.

    Running it again copies only what is new. What cannot be copied (a missing artifact, a
    NaN metric point, a protected alias) is listed with the reason; the rest goes on.
    The server's token, if it needs one, comes from MLFLOW_TRACKING_TOKEN."""
    client = workspace_client_of(ctx)
    found = open_source(source, artifact_root, os.environ.get("MLFLOW_TRACKING_TOKEN"))
    progress = Progress(
        TextColumn("importing runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=as_json,
    )
    task = progress.add_task("runs", total=None)
    try:
        with progress:
            summary = MlflowImporter(client.tracking, client.models.registry, found).run(
                lambda done, total: progress.update(task, completed=done, total=total)
            )
    finally:
        found.close()
    if as_json:
        print_json(summary.to_dict())
    else:
        _show(summary)


def _show(summary: ImportSummary) -> None:
    table = Table("object", "copied", "already copied", title=f"imported from {summary.source}")
    for kind in sorted(set(summary.copied) | set(summary.already)):
        table.add_row(kind, str(summary.copied[kind]), str(summary.already[kind]))
    console().print(table)
    if summary.notes:
        notes = Table("object", "id", "copied, but", title="copied with notes")
        for n in summary.notes:
            notes.add_row(n.kind, n.source_id, n.reason)
        console().print(notes)
    if summary.problems:
        problems = Table("object", "id", "not copied because", title="not copied")
        for p in summary.problems:
            problems.add_row(p.kind, p.source_id, p.reason)
        console().print(problems)
    else:
        console().print("everything was copied")
