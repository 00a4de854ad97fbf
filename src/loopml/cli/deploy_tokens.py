"""`loopml deploy token …`: data-plane tokens that let a client predict or send feedback."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.render import NONE, console, print_json, when
from loopml.deployments import SCOPES, DeploymentToken
from loopml.errors import ValidationError

DAY_S = 86_400.0

deploy_token_app = typer.Typer(
    help="Tokens for the data plane: what a client of one deployment may do (predict, "
    "feedback). `loopml serve` checks them on every request.",
    no_args_is_help=True,
)


def _as_dict(token: DeploymentToken) -> dict[str, object]:
    out: dict[str, object] = {
        "token_id": token.id,
        "deployment": token.deployment,
        "scopes": list(token.scopes),
        "label": token.label,
        "created_by": token.created_by,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked": token.revoked,
    }
    if token.token is not None:
        out["token"] = token.token
    return out


@deploy_token_app.command(
    "create",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml deploy token create bikes-api --scope predict --label web-shop\n"
        "  loopml deploy token create bikes-api --scope feedback --expires-in-days 30 --json"
    ),
)
def token_create(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment.", metavar="DEPLOYMENT")],
    scopes: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help=f"What the token allows: {' or '.join(SCOPES)} (repeat for both).",
            metavar="SCOPE",
        ),
    ],
    label: Annotated[
        str | None, typer.Option("--label", help="What the token is for, e.g. web-shop.")
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
    """Create a data-plane token for one deployment (editors and up) and print it ONCE:
    only its hash is stored. Clients send it as `Authorization: Bearer <token>`."""
    if expires_in_days is not None and expires_in_days <= 0:
        raise ValidationError(f"--expires-in-days must be positive, got {expires_in_days:g}")
    expires_s = None if expires_in_days is None else expires_in_days * DAY_S
    token = client_of(ctx).deployments.tokens.create(
        deployment, scopes, label=label, expires_in_s=expires_s
    )
    warning = "this token is shown once: store it now, it cannot be shown again"
    if as_json:
        print_json(_as_dict(token))
        Console(stderr=True, highlight=False).print(Text(f"warning: {warning}", style="yellow"))
        return
    out = console()
    out.print(
        Text.assemble(
            ("created token ", "green"),
            (token.id, "bold"),
            f" for {deployment} ({', '.join(token.scopes)})",
        )
    )
    out.print()
    out.print(Text(token.token or "", style="bold"), soft_wrap=True)
    out.print()
    out.print(Text(f"warning: {warning}", style="bold yellow"))
    out.print(Text("use it:    -H 'Authorization: Bearer <token>'", style="dim"))
    out.print(Text(f"revoke it: loopml deploy token revoke {token.id}", style="dim"))


@deploy_token_app.command(
    "list",
    epilog="[bold]Examples[/bold]\n\n  loopml deploy token list\n  loopml deploy token list "
    "bikes-api --json",
)
def token_list(
    ctx: typer.Context,
    deployment: Annotated[
        str | None,
        typer.Argument(help="Only this deployment's tokens.", metavar="[DEPLOYMENT]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List data-plane tokens (never their secrets), newest first."""
    tokens = client_of(ctx).deployments.tokens.list(deployment)
    if as_json:
        print_json([_as_dict(t) for t in tokens])
        return
    table = Table()
    for column in ("token", "deployment", "scopes", "label", "created", "expires", "state"):
        table.add_column(column)
    for t in tokens:
        state = "revoked" if t.revoked else ("active" if t.active() else "expired")
        table.add_row(
            Text(t.id, style="bold"),
            t.deployment,
            ", ".join(t.scopes),
            t.label or NONE,
            f"{when(t.created_at)} by {t.created_by}",
            NONE if t.expires_at is None else when(t.expires_at),
            state,
        )
    console().print(table)


@deploy_token_app.command(
    "revoke",
    epilog="[bold]Example[/bold]\n\n  loopml deploy token revoke dtok-1a2b3c4d",
)
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[
        str,
        typer.Argument(help="The token's id (dtok-…), printed by create.", metavar="TOKEN_ID"),
    ],
) -> None:
    """Revoke a data-plane token: servers refuse it within their poll interval (1 s)."""
    token = client_of(ctx).deployments.tokens.revoke(token_id)
    console().print(
        Text.assemble(("revoked token ", "green"), (token_id, "bold"), f" of {token.deployment}")
    )
