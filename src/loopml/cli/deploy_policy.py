"""`loopml deploy policy …`: the traffic policy — which versions may take how much traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.models import apply_setting, read_policy_file
from loopml.cli.render import NONE, console, key_value_table, print_json, when
from loopml.errors import ValidationError
from loopml.governance.traffic_policy import OPEN, PolicyInForce

deploy_policy_app = typer.Typer(
    help="The traffic policy: which model versions may take how much production traffic "
    "(by default, full traffic only for the version holding the approved alias champion).",
    no_args_is_help=True,
)

Deployment = Annotated[
    str | None,
    typer.Option(
        "--deployment",
        help="One deployment's own policy instead of the workspace's.",
        metavar="NAME",
        show_default=False,
    ),
]
Reason = Annotated[
    str | None,
    typer.Option("--reason", help="Why, in a sentence (audited).", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (the format --file reads).")]


def _epilog(*examples: str) -> str:
    return "[bold]Examples[/bold]\n\n" + "\n".join(f"  {e}" for e in examples)


def policy_table(in_force: PolicyInForce) -> Table:
    """Where the policy comes from, then each share of traffic and the rules that admit it."""
    policy = in_force.policy

    def rules(names: list[str]) -> str:
        return "; or ".join(policy.describe_rule(rule) for rule in names)

    partial = list(dict.fromkeys([*policy.full_traffic, *policy.partial_traffic]))
    setter = NONE
    if in_force.set_by is not None and in_force.set_at is not None:
        setter = f"{when(in_force.set_at)} by {in_force.set_by} (audit event {in_force.event})"
    return key_value_table(
        None,
        [
            ("policy", Text(in_force.source, style="bold")),
            ("set", setter),
            ("reason", in_force.reason or NONE),
            ("approved alias", policy.approved_alias),
            (f"more than {policy.max_partial_weight:g}%", rules(policy.full_traffic)),
            (f"up to {policy.max_partial_weight:g}%", rules(partial)),
            ("mirrored copy", rules(policy.shadow)),
        ],
    )


def _show(in_force: PolicyInForce, as_json: bool, verb: str | None = None) -> None:
    if as_json:
        print_json(in_force.to_dict())
        return
    out = console()
    if verb is not None:
        out.print(Text(verb, style="green"))
    out.print(policy_table(in_force))


@deploy_policy_app.command(
    "show",
    epilog=_epilog("loopml deploy policy show", "loopml deploy policy show --deployment bikes-api"),
)
def show(ctx: typer.Context, deployment: Deployment = None, as_json: AsJson = False) -> None:
    """Show the traffic policy in force for the workspace (or one deployment)."""
    _show(client_of(ctx).deployments.policy.get(deployment), as_json)


@deploy_policy_app.command(
    "set",
    epilog=_epilog(
        "loopml deploy policy set --set max_partial_weight=20 --reason 'canaries stay small'",
        'loopml deploy policy set --set \'partial_traffic=["approved", "alias:challenger"]\'',
        "loopml deploy policy set --deployment bikes-staging --open --reason 'staging'",
        "loopml deploy policy set --file traffic.json",
    ),
)
def set_(
    ctx: typer.Context,
    deployment: Deployment = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Replace the policy with this JSON object.", metavar="PATH"),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Change one field of the policy in force, e.g. max_partial_weight=20; the "
            "value is read as JSON when it is valid JSON (repeatable).",
            metavar="KEY=VALUE",
        ),
    ] = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Admit every version at any share (no rules).")
    ] = False,
    reason: Reason = None,
    as_json: AsJson = False,
) -> None:
    """Set the traffic policy of the workspace (or of one deployment). Needs the admin
    role; the audit trail keeps it, and it is read back from there."""
    if sum((file is not None, bool(settings), open_)) != 1:
        raise ValidationError("give exactly one of --file, --set (repeatable) or --open")
    service = client_of(ctx).deployments.policy
    data: dict[str, Any]
    if open_:
        data = OPEN.model_dump(mode="json")
    elif file is not None:
        data = read_policy_file(file)
    else:
        data = service.get(deployment).policy.model_dump(mode="json")
        for item in settings or []:
            apply_setting(data, item)
    in_force = service.set(data, deployment=deployment, reason=reason)
    _show(in_force, as_json, "traffic policy set")


@deploy_policy_app.command(
    "clear",
    epilog=_epilog(
        "loopml deploy policy clear --deployment bikes-staging --reason 'staging is gone'",
        "loopml deploy policy clear --reason 'back to the default'",
    ),
)
def clear(
    ctx: typer.Context,
    deployment: Deployment = None,
    reason: Reason = None,
    as_json: AsJson = False,
) -> None:
    """Drop a deployment's own policy (the workspace's applies again), or the workspace's
    (the default applies again). Needs the admin role."""
    in_force = client_of(ctx).deployments.policy.clear(deployment=deployment, reason=reason)
    _show(in_force, as_json, "traffic policy cleared; now in force:")
