"""`loopml monitor acknowledge | resolve`: an alert handled by hand (both modes)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from loopml.cli.context import operations_of
from loopml.cli.render import console, print_json, when
from loopml.monitoring.alerts import Alert

ALERT_HELP = "The alert's id (`loopml monitor alerts` lists them)."
JSON_HELP = "Print JSON instead of text."
ACKNOWLEDGE_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml monitor acknowledge alert-3f9c2a1b7d04 --comment 'looking into it'"
)
RESOLVE_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml monitor resolve alert-3f9c2a1b7d04 --reason 'the sensor was recalibrated'"
)


def _print(alert: Alert, verb: str, as_json: bool) -> None:
    if as_json:
        print_json(alert.to_dict())
        return
    console().print(
        Text.assemble(
            (verb + " ", "green"),
            (alert.id, "bold"),
            f"  {alert.monitor}: {alert.rule} on {alert.subject} ({alert.severity}, "
            f"opened {when(alert.opened_at)})",
        )
    )


def acknowledge(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help=ALERT_HELP, metavar="ALERT_ID")],
    comment: Annotated[
        str | None,
        typer.Option(
            "--comment", help="What you are doing about it (audited).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Record that you have seen an open alert; it stays open until it clears or is
    resolved."""
    alert = operations_of(ctx).monitors.alerts.acknowledge(alert_id, comment=comment)
    _print(alert, "acknowledged", as_json)


def resolve(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help=ALERT_HELP, metavar="ALERT_ID")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is closed, in a sentence (audited).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Close an open alert by hand; if its condition still holds, the next window opens a
    new one."""
    alert = operations_of(ctx).monitors.alerts.resolve(alert_id, reason=reason)
    _print(alert, "resolved", as_json)
