"""`loopml deploy …`: deployments, their traffic split, rollouts and rollbacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.render import NONE, console, key_value_table, print_json, when
from loopml.deployments import Deployment, Route, parse_route
from loopml.errors import ValidationError

deploy_app = typer.Typer(
    help="Deploy model versions behind named endpoints: traffic splits, canaries, blue-green "
    "switches, shadows and rollbacks.",
    no_args_is_help=True,
)

NAME_HELP = "The deployment's name."
REF_HELP = "model:NAME/VERSION or model:NAME@ALIAS (resolved to a version now)."
REASON_HELP = "Why, in a sentence (kept in the history and the audit trail)."
JSON_HELP = "Print JSON instead of tables."
UNKNOWN_HELP = (
    "What a request holding a category the training data never held gets: error (HTTP 422), "
    "accept (scored as it is) or flag (scored, and the rows marked in the answer and the "
    "prediction log)."
)
EXTRA_HELP = (
    "What a request with columns the model does not take gets: error (HTTP 422) or ignore "
    "(dropped before scoring; the answer lists them)."
)
OVERRIDE_HELP = (
    "Admins only: make a change the traffic policy refuses; needs --reason, which the audit "
    "trail keeps."
)
Override = Annotated[bool, typer.Option("--override-policy", help=OVERRIDE_HELP)]
Reason = Annotated[str | None, typer.Option("--reason", help=REASON_HELP, show_default=False)]


def _override(override: bool, reason: str | None) -> str | None:
    """The override reason to pass on, or None without --override-policy."""
    if not override:
        return None
    if reason is None or not reason.strip():
        raise ValidationError(
            "--override-policy needs --reason '…': say why the traffic policy is overridden "
            "(the audit trail keeps it)"
        )
    return reason


def _epilog(*examples: str) -> str:
    return "[bold]Examples[/bold]\n\n" + "\n".join(f"  {e}" for e in examples)


# ---------------------------------------------------------------------- views
def _percent(weight: float) -> str:
    return f"{weight:g}%"


def routes_table(deployment: Deployment) -> Table:
    """Routes then shadows: model version, weight, shadow flag."""
    table = Table(title_justify="left")
    table.add_column("model version")
    table.add_column("weight", justify="right")
    table.add_column("shadow")
    for route in deployment.routes:
        table.add_row(Text(route.uri, style="bold"), _percent(route.weight), "no")
    for shadow in deployment.shadows:
        table.add_row(Text(shadow.uri, style="dim"), _percent(shadow.weight), "yes")
    return table


def _summary(routes: Sequence[Route] | None) -> str:
    if not routes:
        return NONE
    return ", ".join(f"{r.uri} {_percent(r.weight)}" for r in routes)


def _stored_summary(routes: Sequence[Mapping[str, Any]]) -> str:
    return _summary([Route.from_dict(dict(r)) for r in routes])


def deployment_info(deployment: Deployment) -> Table:
    return key_value_table(
        None,
        [
            ("deployment", Text(deployment.name, style="bold")),
            ("revision", deployment.revision),
            ("strategy", deployment.strategy),
            ("sticky key", deployment.sticky_key or NONE),
            ("unknown categories", deployment.input_policy.unknown_categories),
            ("extra columns", deployment.input_policy.extra_columns),
            ("previous routes", _summary(deployment.previous_routes)),
            ("updated", f"{when(deployment.updated_at)} by {deployment.updated_by}"),
            ("created", f"{when(deployment.created_at)} by {deployment.created_by}"),
        ],
    )


def _print_changed(out: Console, verb: str, deployment: Deployment) -> None:
    out.print(
        Text.assemble(
            (verb + " ", "green"),
            (deployment.uri, "bold"),
            f"  revision {deployment.revision} ({deployment.strategy})",
        )
    )
    out.print(routes_table(deployment))
    if deployment.previous_routes:
        out.print(Text(f"rollback restores: {_summary(deployment.previous_routes)}", style="dim"))


def _print_policy(out: Console, deployment: Deployment) -> None:
    policy = deployment.input_policy
    out.print(
        Text(
            f"unknown categories: {policy.unknown_categories}; extra columns: "
            f"{policy.extra_columns}",
            style="dim",
        )
    )


# ---------------------------------------------------------------------- changes
@deploy_app.command(
    "create",
    epilog=_epilog(
        "loopml deploy create bikes-api model:bikes@champion",
        "loopml deploy create bikes-api model:bikes/3 --sticky-key user_id",
        "loopml deploy create bikes-api model:bikes/3 --unknown-categories flag "
        "--extra-columns ignore",
        "loopml deploy create bikes-api model:bikes/3 --override-policy --reason 'first "
        "deployment before any approval'",
    ),
)
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    model_ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="MODEL_REF")],
    sticky_key: Annotated[
        str | None,
        typer.Option(
            "--sticky-key",
            help="Request field whose value pins a caller to one version during a split.",
            show_default=False,
        ),
    ] = None,
    unknown_categories: Annotated[
        str,
        typer.Option("--unknown-categories", help=UNKNOWN_HELP, metavar="error|accept|flag"),
    ] = "error",
    extra_columns: Annotated[
        str, typer.Option("--extra-columns", help=EXTRA_HELP, metavar="error|ignore")
    ] = "error",
    override: Override = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why (with --override-policy).", show_default=False),
    ] = None,
) -> None:
    """Create a deployment sending all traffic to one model version (the traffic policy
    must admit it at 100 %: by default, the version holding champion)."""
    deployment = client_of(ctx).deployments.create(
        name,
        model_ref,
        sticky_key=sticky_key,
        unknown_categories=unknown_categories,
        extra_columns=extra_columns,
        override_reason=_override(override, reason),
    )
    _print_changed(console(), "created", deployment)
    _print_policy(console(), deployment)


@deploy_app.command(
    "update",
    epilog=_epilog(
        "loopml deploy update bikes-api --route model:bikes/3=90 --route model:bikes/4=10",
        "loopml deploy update bikes-api --route model:bikes/4=100 --shadow model:bikes/5 "
        "--reason 'v4 holds up'",
        "loopml deploy update bikes-api --unknown-categories flag --extra-columns ignore",
    ),
)
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    routes: Annotated[
        list[str] | None,
        typer.Option(
            "--route",
            help="model:NAME/VERSION=WEIGHT; repeat it; the weights must sum to 100. "
            "Default: keep the current routes.",
            show_default=False,
        ),
    ] = None,
    shadows: Annotated[
        list[str] | None,
        typer.Option(
            "--shadow",
            help="model:NAME/VERSION[=PERCENT] to mirror traffic to; repeat it. "
            "Default: keep the current shadows.",
            show_default=False,
        ),
    ] = None,
    unknown_categories: Annotated[
        str | None,
        typer.Option(
            "--unknown-categories",
            help=UNKNOWN_HELP + " Default: keep the current setting.",
            metavar="error|accept|flag",
            show_default=False,
        ),
    ] = None,
    extra_columns: Annotated[
        str | None,
        typer.Option(
            "--extra-columns",
            help=EXTRA_HELP + " Default: keep the current setting.",
            metavar="error|ignore",
            show_default=False,
        ),
    ] = None,
    reason: Reason = None,
    override: Override = False,
) -> None:
    """Replace the traffic split (strategy 'single' for one route, else 'canary') and/or
    change what the endpoint does with unseen categories and extra columns."""
    parsed = None if not routes else [parse_route(text) for text in routes]
    mirrored = None if not shadows else [parse_route(text) for text in shadows]
    strategy = None if parsed is None else ("single" if len(parsed) == 1 else "canary")
    deployment = client_of(ctx).deployments.update(
        name,
        parsed,
        shadows=mirrored,
        strategy=strategy,
        unknown_categories=unknown_categories,
        extra_columns=extra_columns,
        reason=reason,
        override_reason=_override(override, reason),
    )
    _print_changed(console(), "updated", deployment)
    _print_policy(console(), deployment)


@deploy_app.command(
    "canary",
    epilog=_epilog("loopml deploy canary bikes-api model:bikes/4 --weight 10"),
)
def canary(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    model_ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="MODEL_REF")],
    weight: Annotated[
        float,
        typer.Option("--weight", help="Percent of traffic for the candidate (0-100, exclusive)."),
    ],
    reason: Reason = None,
    override: Override = False,
) -> None:
    """Send a share of traffic to a candidate; the current routes keep the rest pro rata."""
    deployment = client_of(ctx).deployments.canary(
        name, model_ref, weight, reason=reason, override_reason=_override(override, reason)
    )
    _print_changed(console(), "updated", deployment)


@deploy_app.command(
    "blue-green",
    epilog=_epilog(
        "loopml deploy blue-green bikes-api model:bikes@champion",
        "loopml deploy blue-green bikes-api model:bikes/4 --override-policy --reason "
        "'incident 42: v3 leaks PII, v4 is the fix'",
    ),
)
def blue_green(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    model_ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="MODEL_REF")],
    smoke_test: Annotated[
        bool,
        typer.Option(
            "--smoke-test/--no-smoke-test",
            help="Load the version and predict on its input example before switching.",
        ),
    ] = True,
    reason: Reason = None,
    override: Override = False,
) -> None:
    """Switch all traffic to a version at once, after a smoke test; a failure changes
    nothing."""
    deployment = client_of(ctx).deployments.blue_green(
        name,
        model_ref,
        smoke_test=smoke_test,
        reason=reason,
        override_reason=_override(override, reason),
    )
    _print_changed(console(), "switched", deployment)


@deploy_app.command(
    "shadow",
    epilog=_epilog(
        "loopml deploy shadow bikes-api model:bikes/5",
        "loopml deploy shadow bikes-api model:bikes/5 --off",
    ),
)
def shadow(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    model_ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="MODEL_REF")],
    off: Annotated[bool, typer.Option("--off", help="Stop mirroring traffic to it.")] = False,
    override: Override = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why (with --override-policy).", show_default=False),
    ] = None,
) -> None:
    """Mirror traffic to a version whose answers are logged but never returned."""
    deployment = client_of(ctx).deployments.shadow(
        name, model_ref, enabled=not off, override_reason=_override(override, reason)
    )
    _print_changed(console(), "updated", deployment)


@deploy_app.command(
    "promote",
    epilog=_epilog("loopml deploy promote bikes-api model:bikes/4"),
)
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    model_ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="MODEL_REF")],
    reason: Reason = None,
    override: Override = False,
) -> None:
    """Send all traffic to a version (typically the canary that proved itself)."""
    deployment = client_of(ctx).deployments.promote(
        name, model_ref, reason=reason, override_reason=_override(override, reason)
    )
    _print_changed(console(), "promoted", deployment)


@deploy_app.command(
    "rollback",
    epilog=_epilog("loopml deploy rollback bikes-api --reason 'error rate up'"),
)
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    reason: Reason = None,
    override: Override = False,
) -> None:
    """Restore the routes the last routing change replaced."""
    deployment = client_of(ctx).deployments.rollback(
        name, reason=reason, override_reason=_override(override, reason)
    )
    _print_changed(console(), "rolled back", deployment)


# ---------------------------------------------------------------------- reads
@deploy_app.command(
    "show",
    epilog=_epilog("loopml deploy show bikes-api", "loopml deploy show bikes-api --json"),
)
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show a deployment: revision, strategy, routes and shadows, previous routes."""
    deployment = client_of(ctx).deployments.get(name)
    if as_json:
        print_json(deployment.to_dict())
        return
    out = console()
    out.print(deployment_info(deployment))
    out.print(routes_table(deployment))


@deploy_app.command(
    "list",
    epilog=_epilog("loopml deploy list", "loopml deploy list --json"),
)
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List deployments with their revision, strategy and traffic split."""
    deployments = client_of(ctx).deployments.list()
    if as_json:
        print_json([d.to_dict() for d in deployments])
        return
    out = console()
    if not deployments:
        out.print("no deployments yet; create one with `loopml deploy create NAME MODEL_REF`")
        return
    table = Table()
    for column in ("deployment", "revision", "strategy", "routes", "shadows", "updated"):
        table.add_column(column, justify="right" if column == "revision" else "left")
    for d in deployments:
        table.add_row(
            Text(d.name, style="bold"),
            str(d.revision),
            d.strategy,
            _summary(d.routes),
            _summary(d.shadows),
            when(d.updated_at, seconds=False),
        )
    out.print(table)


@deploy_app.command(
    "history",
    epilog=_epilog("loopml deploy history bikes-api", "loopml deploy history bikes-api --json"),
)
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Every revision of a deployment, oldest first: routes, shadows, who, when and why."""
    rows = client_of(ctx).deployments.history(name)
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("revision", "at", "actor", "strategy", "routes", "shadows", "reason"):
        table.add_column(column, justify="right" if column == "revision" else "left")
    for row in rows:
        table.add_row(
            str(row["revision"]),
            when(row["at"]),
            row["actor"],
            row["strategy"],
            _stored_summary(row["routes"]),
            _stored_summary(row["shadows"]),
            row["reason"] or NONE,
        )
    console().print(table)
