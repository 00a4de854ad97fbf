"""`loopml pipeline …`: run a pipeline by import path, list its runs, and register the
pipelines the controller may launch."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from loopml.cli.context import operations_of, workspace_client_of
from loopml.cli.render import console, duration, print_json, short_hash, status, when
from loopml.errors import ValidationError
from loopml.pipelines import EXECUTORS, PipelineFailedError, PipelineResult, run_pipeline

pipeline_app = typer.Typer(
    help="Run pipelines (cached steps, local/process/ray executors) and list their runs.",
    no_args_is_help=True,
)


def parse_params(items: list[str]) -> dict[str, Any]:
    """`k=v` pairs; a value that reads as JSON (3, 0.5, true, [1,2]) is taken as such."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--param takes KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


def _steps_table(result: PipelineResult) -> Table:
    table = Table(title=f"{result.pipeline} · {result.run_id} · {result.status}")
    for column in ("step", "status", "cached", "run", "output", "time"):
        table.add_column(column)
    for step in result.steps.values():
        table.add_row(
            step.name,
            status(step.status),
            f"from {step.cached_from}" if step.cached else "no",
            step.run_id or "-",
            f"{step.output.kind}:{short_hash(step.output.digest)}" if step.output else "-",
            duration(step.seconds) if not step.cached else "-",
        )
    return table


@pipeline_app.command(
    "run",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml pipeline run bikes.pipelines:train --param alpha=0.5\n"
        "  loopml pipeline run bikes.pipelines:train --executor process --json"
    ),
)
def run(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="The pipeline as MODULE:ATTR, e.g. bikes.pipelines:train.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A pipeline parameter KEY=VALUE (repeatable)."),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", "-e", help=f"Where steps run: {', '.join(EXECUTORS)}.")
    ] = "local",
    max_workers: Annotated[
        int | None,
        typer.Option("--max-workers", help="Parallel workers (process and ray executors)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Run a pipeline: cached steps are skipped, the others run on the chosen executor."""
    params = parse_params(param or [])
    try:
        result = run_pipeline(
            target,
            workspace_client_of(ctx),
            params=params,
            executor=executor,
            max_workers=max_workers,
        )
    except PipelineFailedError as exc:
        if as_json:
            print_json({**exc.result.to_dict(), "error": str(exc)})
        else:
            console().print(_steps_table(exc.result))
        raise
    if as_json:
        print_json(result.to_dict())
        return
    console().print(_steps_table(result))


@pipeline_app.command(
    "runs",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml pipeline runs\n"
        "  loopml pipeline runs train-bikes --max 5 --json"
    ),
)
def runs(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only runs of this pipeline.", show_default=False)
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="Show at most N runs.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List pipeline runs, newest first, with their step and cache-hit counts."""
    found = operations_of(ctx).pipelines.runs(name, limit=max_results)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        console().print("no pipeline runs yet; start one with `loopml pipeline run MODULE:ATTR`")
        return
    table = Table()
    for column in ("run", "pipeline", "status", "started", "steps", "cached", "failed"):
        table.add_column(column)
    for r in found:
        table.add_row(
            r.run_id,
            r.pipeline,
            status(r.status),
            when(r.start_time),
            str(r.steps),
            str(r.cached),
            str(r.failed),
        )
    console().print(table)


@pipeline_app.command(
    "register",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml pipeline register bikes-retrain bikes_pipeline:retrain\n"
        "  loopml pipeline register bikes-retrain bikes_pipeline:retrain --json"
    ),
)
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The name triggers use for it.")],
    target: Annotated[
        str, typer.Argument(help="The @pipeline or project function as MODULE:ATTR.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Let the controller launch a pipeline (admin only): pins the code it has now; after a
    code change, register it again or its triggers' events fail."""
    record = operations_of(ctx).pipelines.register(name, target)
    if as_json:
        print_json(record.to_dict())
        return
    console().print(
        f"registered {record.kind} {record.name} = {record.import_path} "
        f"(code {short_hash(record.fingerprint)}); triggers may name it now"
    )


@pipeline_app.command(
    "list",
    epilog="[bold]Examples[/bold]\n\n  loopml pipeline list\n  loopml pipeline list --json",
)
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the pipelines the controller may launch, with the code each is pinned to."""
    found = operations_of(ctx).pipelines.list()
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        console().print(
            "no registered pipelines; an admin registers one with "
            "`loopml pipeline register NAME MODULE:ATTR`"
        )
        return
    table = Table()
    for column in ("name", "target", "kind", "code", "registered by", "registered"):
        table.add_column(column)
    for r in found:
        table.add_row(
            r.name,
            r.import_path,
            r.kind,
            short_hash(r.fingerprint),
            r.registered_by,
            when(r.registered_at),
        )
    console().print(table)


@pipeline_app.command(
    "launch",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml pipeline launch bikes-retrain --param alpha=0.5\n"
        "  LOOPML_SERVER_URL=http://ml:8080 loopml pipeline launch bikes-retrain --json"
    ),
)
def launch(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A registered pipeline (`loopml pipeline list`).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A pipeline parameter KEY=VALUE (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a registered pipeline to its end, as a trigger would (on the server in remote
    mode): only what an admin registered, only while its code is the registered code."""
    outcome = operations_of(ctx).pipelines.launch(name, parse_params(param or []))
    if as_json:
        print_json(outcome.to_dict())
    else:
        out = console()
        out.print(f"{name}: {status(outcome.status)}")
        if outcome.pipeline_run_id:
            out.print(f"pipeline run {outcome.pipeline_run_id}")
        if outcome.error:
            out.print(outcome.error)
    if outcome.status != "succeeded":
        raise typer.Exit(1)
