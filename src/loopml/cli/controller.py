"""`loopml controller` (the reconcile loop) and `loopml trigger …` (what starts pipelines)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from loopml.cli.context import operations_of, workspace_client_of
from loopml.cli.render import NONE, console, print_json, when
from loopml.controller import Controller, ReconcileReport, Trigger, TriggerEvent
from loopml.errors import ValidationError

JSON_HELP = "Print JSON instead of tables."
NAME_HELP = "The trigger's name."

CONTROLLER_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml controller                 (every 5 s until Ctrl-C)\n"
    "  loopml controller --once --json"
)

trigger_app = typer.Typer(
    help="Declare what starts a pipeline: a new dataset version, an alert, a schedule.",
    no_args_is_help=True,
)


def _epilog(*examples: str) -> str:
    return "[bold]Examples[/bold]\n\n" + "\n".join(f"  {e}" for e in examples)


def controller(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One reconcile pass, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between passes.", min=0.01)
    ] = 5.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each pass as one JSON line.")
    ] = False,
) -> None:
    """Run the reconcile loop: scheduled monitors, triggers, pipelines, rollouts.

    Safe to stop at any moment (Ctrl-C, or kill): the next controller finishes the work.
    """
    client = workspace_client_of(ctx)
    root = str(client.settings.root)
    if root not in sys.path:  # pipelines given as "module:attr" of the workspace's code
        sys.path.insert(0, root)
    loop = Controller(client)

    def show(report: ReconcileReport) -> None:
        if as_json:
            typer.echo(json.dumps(report.to_dict(), default=str))
            return
        for line in report.lines():
            console().print(f"{when(report.at)}  {line}")
        if once and report.idle:
            console().print("nothing to do")

    if once:
        show(loop.reconcile_once())
        return
    if not as_json:
        console().print(
            Text(f"controller {loop.owner}: a pass every {interval:g} s; Ctrl-C stops", "dim")
        )
    try:
        loop.run_forever(interval, on_report=show)
    except KeyboardInterrupt:
        if not as_json:
            console().print("stopped")


def _params(values: list[str] | None) -> dict[str, Any]:
    """`NAME=VALUE` options; a VALUE that parses as JSON is that value, else text."""
    parsed: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--param {item!r} must look like NAME=VALUE")
        try:
            parsed[key.strip()] = json.loads(value)
        except ValueError:
            parsed[key.strip()] = value
    return parsed


def _rollout(deployment: str | None, plan: str | None) -> dict[str, Any] | None:
    if deployment is None:
        if plan is not None:
            raise ValidationError("--rollout-plan needs --rollout-deployment")
        return None
    try:
        parsed = json.loads(plan) if plan is not None else {}
    except ValueError as exc:
        raise ValidationError(f"--rollout-plan is not JSON: {exc}") from exc
    return {"deployment": deployment, "plan": parsed}


@trigger_app.command(
    "create",
    epilog=_epilog(
        "loopml trigger create retrain dataset:bikes --pipeline bikes.train:retrain "
        "--param data='{trigger.dataset}' --cooldown 1h",
        "loopml trigger create on-drift alert:bikes-drift:dataset_drift --pipeline "
        "bikes.train:retrain --rollout-deployment bikes-api "
        "--rollout-plan '{\"steps\": [10, 100]}'",
        "loopml trigger create nightly cron:'0 2 * * *' --pipeline bikes.train:retrain",
        "loopml trigger create refresh feature_view:weekly_demand --pipeline "
        "bikes.features:refresh --param data='{trigger.dataset}'",
        "loopml trigger create on-drift alert:bikes-drift --pipeline bikes.train:retrain "
        "--requires-new-data bikes --param data='{trigger.new_data}'",
    ),
)
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    on: Annotated[
        str,
        typer.Argument(
            help="dataset:NAME, alert:MONITOR[:RULE], schedule:DURATION, cron:'EXPR' or "
            "feature_view:VIEW (a new version of the dataset the view reads).",
            metavar="ON",
        ),
    ],
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="What to launch, as MODULE:ATTRIBUTE.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="NAME=VALUE passed to the pipeline (JSON or text; '{trigger.KEY}' takes the "
            "cause's KEY). Repeatable.",
            show_default=False,
        ),
    ] = None,
    cooldown: Annotated[
        str | None,
        typer.Option(
            "--cooldown",
            help="No new launch within this long of the last one (e.g. 1h).",
            show_default=False,
        ),
    ] = None,
    rollout_deployment: Annotated[
        str | None,
        typer.Option(
            "--rollout-deployment",
            help="Roll the pipeline's passed candidate out on this deployment.",
            show_default=False,
        ),
    ] = None,
    rollout_plan: Annotated[
        str | None,
        typer.Option("--rollout-plan", help="The rollout plan as JSON.", show_default=False),
    ] = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Create it disabled (enable it later).")
    ] = False,
    requires_new_data: Annotated[
        str | None,
        typer.Option(
            "--requires-new-data",
            help="Alert and schedule triggers: each event waits (state waiting_data) until "
            "this dataset has a version newer than the cause, then launches with it as "
            "'{trigger.new_data}'.",
            metavar="DATASET",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Declare a trigger; it fires for causes that appear from now on."""
    created = operations_of(ctx).triggers.create(
        name,
        on,
        pipeline,
        params=_params(param),
        cooldown=cooldown,
        rollout=_rollout(rollout_deployment, rollout_plan),
        enabled=not disabled,
        requires_new_data=requires_new_data,
    )
    console().print(
        Text.assemble(("created ", "green"), (created.uri, "bold"), f" on {created.source}")
    )
    console().print(_triggers_table([created]))


@trigger_app.command("list", epilog=_epilog("loopml trigger list", "loopml trigger list --json"))
def list_triggers(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Every trigger: what it watches, what it launches, when it last fired."""
    found = operations_of(ctx).triggers.list()
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    if not found:
        console().print("no triggers yet: `loopml trigger create NAME ON --pipeline MODULE:ATTR`")
        return
    console().print(_triggers_table(found))


@trigger_app.command(
    "events",
    epilog=_epilog("loopml trigger events", "loopml trigger events retrain --state failed"),
)
def events(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only this trigger's events.", metavar="[NAME]")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="pending, waiting_data, running, succeeded, failed or skipped_cooldown.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """What each cause became: launched, skipped, succeeded, failed, rolled out."""
    found = operations_of(ctx).triggers.events(name, state=state, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    if not found:
        console().print("no events")
        return
    console().print(_events_table(found))


@trigger_app.command(
    "retry",
    epilog=_epilog("loopml trigger retry tev-0c1f…", "loopml trigger retry tev-0c1f… --json"),
)
def retry(
    ctx: typer.Context,
    event: Annotated[
        str, typer.Argument(help="The event's id (see `loopml trigger events`).", metavar="EVENT")
    ],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Queue a failed or cooldown-skipped event again; the cooldown does not hold it back.

    The next controller pass launches it (or, if its trigger waits for new data that has not
    come, it waits again). Its earlier attempts stay in the audit log.
    """
    retried = operations_of(ctx).triggers.retry(event)
    if as_json:
        print_json(retried.to_dict())
        return
    console().print(
        Text.assemble(("retrying ", "green"), (retried.id, "bold"), f": now {retried.state}")
    )


@trigger_app.command("enable", epilog=_epilog("loopml trigger enable retrain"))
def enable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")]
) -> None:
    """Fire again, for causes from now on; pending events resume."""
    operations_of(ctx).triggers.enable(name)
    console().print(f"enabled trigger:{name}")


@trigger_app.command("disable", epilog=_epilog("loopml trigger disable retrain"))
def disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")]
) -> None:
    """Stop firing; pending events wait until the trigger is enabled again."""
    operations_of(ctx).triggers.disable(name)
    console().print(f"disabled trigger:{name}")


@trigger_app.command("delete", epilog=_epilog("loopml trigger delete retrain"))
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")]
) -> None:
    """Remove a trigger and its events (the audit log keeps their history)."""
    operations_of(ctx).triggers.delete(name)
    console().print(f"deleted trigger:{name}")


def _triggers_table(found: list[Trigger]) -> Table:
    table = Table("name", "on", "pipeline", "cooldown", "rollout", "enabled", "last fired")
    for t in found:
        waits = t.source.requires_new_data
        table.add_row(
            t.name,
            str(t.source) + (f" + new data:{waits}" if waits else ""),
            t.pipeline,
            f"{t.cooldown_s:g}s" if t.cooldown_s else NONE,
            t.rollout.deployment if t.rollout else NONE,
            "yes" if t.enabled else "no",
            when(t.last_fired_at, seconds=False),
        )
    return table


def _events_table(found: list[TriggerEvent]) -> Table:
    table = Table("event", "trigger", "cause", "state", "tries", "rollout", "created", "error")
    for e in found:
        rollout = e.rollout_state or NONE
        table.add_row(
            e.id,
            e.trigger,
            e.cause_info.get("dataset") or e.cause,
            e.state,
            str(e.attempts),
            rollout,
            when(e.created_at, seconds=False),
            (e.error or "")[:80] or NONE,
        )
    return table
