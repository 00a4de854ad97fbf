"""`loopml webhook …`: subscribe receivers to registry and loop events, follow deliveries."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from loopml.cli.context import workspace_client_of
from loopml.cli.render import NONE, console, print_json, when
from loopml.events import EVENT_TYPES, FORMATS, Delivery

webhook_app = typer.Typer(
    help="Webhooks: registry and loop events (versions, approvals, aliases, rollouts, "
    "alerts, triggers) sent to your receivers, signed with HMAC-SHA256. The controller "
    "(`loopml controller` or `loopml server`) delivers them.",
    no_args_is_help=True,
)


@webhook_app.command(
    "add",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml webhook add ops https://hooks.example.com/loopml\n"
        "  loopml webhook add chat https://hooks.slack.com/services/T0/B0/X --format slack "
        "--event rollout.* --event alert.opened"
    ),
)
def webhook_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the subscriber.", metavar="NAME")],
    url: Annotated[str, typer.Argument(help="Where to POST (http or https).", metavar="URL")],
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help=f"An event type ({', '.join(EVENT_TYPES)}), a group such as rollout.*, or * "
            "(repeat; default: every event).",
            metavar="EVENT",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"Payload format: {' or '.join(FORMATS)}.", metavar="FORMAT"),
    ] = "json",
    max_attempts: Annotated[
        int,
        typer.Option(
            "--max-attempts", help="Attempts before a delivery is dead-lettered.", metavar="N"
        ),
    ] = 8,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the webhook and secret as JSON.")
    ] = False,
) -> None:
    """Add a webhook (admins) and print its signing secret ONCE."""
    added = workspace_client_of(ctx).webhooks.add(
        name, url, events, format=fmt, max_attempts=max_attempts
    )
    warning = "the secret is shown once: store it now, it cannot be shown again"
    if as_json:
        print_json({**added.webhook.to_dict(), "secret": added.secret})
        Console(stderr=True, highlight=False).print(Text(f"warning: {warning}", style="yellow"))
        return
    out = console()
    hook = added.webhook
    out.print(
        Text.assemble(
            ("added webhook ", "green"), (hook.name, "bold"), f" → {hook.url} ({hook.format})"
        )
    )
    out.print(f"events: {', '.join(hook.events)}")
    out.print()
    out.print(Text(added.secret, style="bold"), soft_wrap=True)
    out.print()
    out.print(Text(f"warning: {warning}", style="bold yellow"))
    out.print(
        Text(
            "verify:  X-Loopml-Signature = sha256=HMAC(secret, timestamp + '.' + body)", style="dim"
        )
    )


@webhook_app.command(
    "list", epilog="[bold]Examples[/bold]\n\n  loopml webhook list\n  loopml webhook list --json"
)
def webhook_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List webhooks with their delivery counts (full URLs for admins only)."""
    client = workspace_client_of(ctx)
    hooks = client.webhooks.list()
    if as_json:
        print_json([h.to_dict() for h in hooks])
        return
    table = Table()
    for column in ("webhook", "url", "events", "format", "attempts", "added"):
        table.add_column(column)
    for h in hooks:
        table.add_row(
            Text(h.name, style="bold"),
            h.url,
            ", ".join(h.events),
            h.format,
            str(h.max_attempts),
            f"{when(h.created_at)} by {h.created_by}",
        )
    console().print(table)


@webhook_app.command("remove", epilog="[bold]Example[/bold]\n\n  loopml webhook remove ops")
def webhook_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The webhook.", metavar="NAME")],
) -> None:
    """Remove a webhook (admins): nothing more is sent to it; its history goes too."""
    workspace_client_of(ctx).webhooks.remove(name)
    console().print(Text.assemble(("removed webhook ", "green"), (name, "bold")))


@webhook_app.command(
    "deliveries",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml webhook deliveries\n"
        "  loopml webhook deliveries ops --state dead --json"
    ),
)
def webhook_deliveries(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only this webhook's deliveries.", metavar="[NAME]")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="pending, delivered or dead (dead letters).", metavar="STATE"),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many, newest first.", metavar="N")
    ] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON, every attempt included.")
    ] = False,
) -> None:
    """Delivery history, newest event first: state, attempts, last status or error."""
    found = workspace_client_of(ctx).webhooks.deliveries(name, state=state, limit=limit)
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    table = Table()
    for column in ("delivery", "webhook", "event", "state", "attempts", "last answer", "next"):
        table.add_column(column)
    for d in found:
        table.add_row(
            Text(d.id, style="bold"),
            d.webhook,
            f"{d.event_type} #{d.event_seq}",
            _state(d),
            str(d.attempts),
            _answer(d),
            when(d.next_attempt_at) if d.state == "pending" else NONE,
        )
    console().print(table)


@webhook_app.command(
    "redeliver", epilog="[bold]Example[/bold]\n\n  loopml webhook redeliver dl-1a2b3c4d"
)
def webhook_redeliver(
    ctx: typer.Context,
    delivery_id: Annotated[str, typer.Argument(help="The delivery (dl-…).", metavar="DELIVERY_ID")],
) -> None:
    """Queue a dead (or delivered) delivery again with a fresh attempt budget (editors)."""
    again = workspace_client_of(ctx).webhooks.redeliver(delivery_id)
    console().print(
        Text.assemble(
            ("queued ", "green"), (again.id, "bold"), f" ({again.event_type}) for {again.webhook}"
        )
    )


def _state(delivery: Delivery) -> Text:
    style = {"delivered": "green", "dead": "red"}.get(delivery.state, "yellow")
    return Text(delivery.state, style=style)


def _answer(delivery: Delivery) -> str:
    if not delivery.tries:
        return NONE
    if delivery.last_error:
        return delivery.last_error[:60]
    return f"HTTP {delivery.last_status}"
