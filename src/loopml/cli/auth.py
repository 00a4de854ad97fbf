"""`loopml auth …`: principals, their roles and API tokens; who am I acting as."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from loopml.cli.context import client_of
from loopml.cli.render import NONE, console, key_value_table, print_json, when
from loopml.errors import ValidationError
from loopml.governance.identity import PERMISSIONS
from loopml.sdk.client import Client
from loopml.store.principal import ROLES

DAY_S = 86_400.0

auth_app = typer.Typer(
    help="Principals, roles and API tokens: who may do what, and acting as someone.",
    no_args_is_help=True,
)
principal_app = typer.Typer(
    help="Create and list principals (people or services) and their roles.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Create and revoke API tokens; a token makes loopml act as its principal.",
    no_args_is_help=True,
)
auth_app.add_typer(principal_app, name="principal")
auth_app.add_typer(token_app, name="token")


@principal_app.command(
    "create",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml auth principal create alice --role approver\n"
        "  loopml auth principal create ci-bot --role editor"
    ),
)
def principal_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Principal name.", metavar="NAME")],
    role: Annotated[
        str, typer.Option("--role", help=f"One of {', '.join(ROLES)} (least to most rights).")
    ],
) -> None:
    """Create a principal with a role (admins only). Give it a token with
    `loopml auth token create NAME`."""
    record = client_of(ctx).auth.create_principal(name, role.strip().lower())
    out = console()
    out.print(
        Text.assemble(("created principal ", "green"), (record.name, "bold"), f" ({record.role})")
    )
    out.print(Text(f"next: loopml auth token create {record.name}", style="dim"))


@principal_app.command(
    "list",
    epilog=(
        "[bold]Examples[/bold]\n\n  loopml auth principal list\n  loopml auth principal list --json"
    ),
)
def principal_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List principals with their role, whether they are disabled, and who created them."""
    records = client_of(ctx).auth.principals()
    if as_json:
        print_json([dataclasses.asdict(r) for r in records])
        return
    if not records:
        console().print(
            "no principals yet; everyone acts as the unauthenticated local user until an "
            "admin runs "
            "`loopml auth principal create NAME --role ROLE`"
        )
        return
    table = Table("principal", "role", "status", "id", "created by", "created")
    for r in records:
        table.add_row(
            r.name,
            r.role,
            Text("disabled", style="red") if r.disabled else Text("active", style="green"),
            r.id,
            r.created_by,
            when(r.created_at, seconds=False),
        )
    console().print(table)


@token_app.command(
    "create",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml auth token create alice --label laptop --expires-in-days 90\n"
        "  loopml auth token create ci-bot --json"
    ),
)
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The principal the token acts as.", metavar="NAME")],
    label: Annotated[
        str | None, typer.Option("--label", help="What the token is for, e.g. laptop or ci.")
    ] = None,
    expires_in_days: Annotated[
        float | None,
        typer.Option(
            "--expires-in-days", help="Expire after N days (default: never).", metavar="N"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the token and its id as JSON.")
    ] = False,
) -> None:
    """Create an API token for a principal (admins only) and print it ONCE: only its hash
    is stored, so it cannot be shown again."""
    if expires_in_days is not None and expires_in_days <= 0:
        raise ValidationError(f"--expires-in-days must be positive, got {expires_in_days:g}")
    expires_s = None if expires_in_days is None else expires_in_days * DAY_S
    issued = client_of(ctx).auth.create_token(name, label=label, expires_in_s=expires_s)
    token, token_id = issued.token, issued.token_id
    warning = "this token is shown once: store it now, it cannot be shown again"
    if as_json:
        print_json(
            {
                "token": token,
                "token_id": token_id,
                "principal": issued.principal,
                "role": issued.role,
                "label": label,
                "expires_in_days": expires_in_days,
            }
        )
        Console(stderr=True, highlight=False).print(Text(f"warning: {warning}", style="yellow"))
        return
    out = console()
    out.print(
        Text.assemble(
            ("created token ", "green"),
            (token_id or "?", "bold"),
            f" for {issued.principal} ({issued.role})",
        )
    )
    out.print(
        key_value_table(
            None,
            [
                ("label", label),
                (
                    "expires",
                    NONE
                    if expires_s is None
                    else f"in {expires_in_days:g} day(s), {when(time.time() + expires_s)}",
                ),
            ],
        )
    )
    out.print()
    out.print(Text(token, style="bold"), soft_wrap=True)
    out.print()
    out.print(Text(f"warning: {warning}", style="bold yellow"))
    out.print(
        Text("use it:    export LOOPML_TOKEN=<token>, or loopml --token <token> …", style="dim")
    )
    out.print(Text(f"revoke it: loopml auth token revoke {token_id}", style="dim"))


@token_app.command(
    "revoke",
    epilog="[bold]Example[/bold]\n\n  loopml auth token revoke tok-1a2b3c4d",
)
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[
        str,
        typer.Argument(help="The token's id (tok-…), printed by token create.", metavar="TOKEN_ID"),
    ],
) -> None:
    """Revoke an API token (admins only): it is refused from now on."""
    client_of(ctx).auth.revoke_token(token_id)
    console().print(Text.assemble(("revoked token ", "green"), (token_id, "bold")))


@auth_app.command(
    "whoami",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml auth whoami\n"
        "  LOOPML_TOKEN=lml_… loopml auth whoami --json"
    ),
)
def whoami(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the principal commands act as, how it was established, and what its role allows."""
    client = client_of(ctx)
    principal = client.auth.whoami()
    by_token = principal.authenticated
    requires_tokens = isinstance(client, Client) and client.settings.require_tokens
    allowed = [p for p, role in PERMISSIONS.items() if principal.at_least(role)]
    if as_json:
        print_json(
            {
                "name": principal.name,
                "role": principal.role,
                "authenticated_by": "token" if by_token else "none",
                "permissions": allowed,
            }
        )
        return
    console().print(
        key_value_table(
            None,
            [
                ("principal", Text(principal.name, style="bold")),
                ("role", principal.role),
                (
                    "via",
                    "API token (--token or LOOPML_TOKEN)"
                    if by_token
                    else "no token: the operating-system user, unauthenticated"
                    + (
                        " (this workspace requires tokens for changes)"
                        if requires_tokens
                        else " (the embedded default acts as admin)"
                    ),
                ),
                ("may", ", ".join(allowed)),
            ],
        )
    )
