"""`loopml models …`: the model registry, aliases, approvals, policies, evaluations, cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from loopml.cli import models_views as views
from loopml.cli.context import client_of
from loopml.cli.paging import AllPages, Limit, PageToken, more_note, pages, print_json_pages
from loopml.cli.render import NONE, console, key_value_table, print_json, value
from loopml.errors import ValidationError
from loopml.registry import ApprovalRequest, format_lineage
from loopml.registry.records import REQUEST_STATES, ModelVersion
from loopml.sdk import AnyClient
from loopml.store.paging import Page

models_app = typer.Typer(
    help="Register model versions, move their aliases through approvals, evaluate them and "
    "print their cards.",
    no_args_is_help=True,
)

REF_HELP = "model:NAME/VERSION, NAME@ALIAS, NAME (the latest version) or a version id."
JSON_HELP = "Print JSON instead of a table."


def _name(text: str) -> str:
    """A model name as typed, with or without the `model:` prefix."""
    return text.strip().removeprefix("model:")


def _holder(version: int | None) -> str:
    return "unset" if version is None else f"v{version}"


@models_app.command(
    "list",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models list\n"
        "  loopml models list bikes --json\n"
        "  loopml models list bikes --limit 20 --page-token eyJs…"
    ),
)
def list_(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only the versions of this model.", metavar="NAME")
    ] = None,
    limit: Limit = 50,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List registered models with their latest version and aliases, or the versions of NAME
    with their state, aliases, flavor, run and key metrics, a page at a time."""
    client = client_of(ctx)
    out = console()
    if name is None:
        models = client.models.list()
        if as_json:
            print_json([views.model_dict(m) for m in models])
        elif not models:
            out.print("no registered models yet; register one with `loopml models register`")
        else:
            out.print(views.model_table(models))
        return
    model = client.models.model(_name(name))

    def fetch(size: int, token: str | None) -> Page[ModelVersion]:
        return client.models.versions(model.name, max_results=size, page_token=token)

    walked = pages(fetch, limit, page_token, every)
    if as_json:
        print_json_pages(walked, lambda _, v: v.to_dict(), "versions")
        return
    for number, page in enumerate(walked):
        if number == 0 and not page and page_token is None:
            out.print(f"{model.uri} has no versions yet")
            return
        if page:
            out.print(views.version_table(model, page))
        note = None if every else more_note(page, "versions")
        if note:
            out.print(note, soft_wrap=True)


@models_app.command(
    "show",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models show model:bikes/3\n"
        "  loopml models show bikes@champion\n"
        "  loopml models show bikes --json        (the latest version)"
    ),
)
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="REF")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the version as JSON.")] = False,
) -> None:
    """Show a model version: state, aliases, run, signature, metrics and stored evaluations."""
    client = client_of(ctx)
    version = client.models.get(ref)
    stored = client.models.card(version.id)["evaluations"]
    if as_json:
        print_json({**version.to_dict(), "evaluations": stored})
        return
    out = console()
    out.print(views.version_info(version))
    for part in views.version_details(version, stored):
        out.print()
        out.print(part)


@models_app.command(
    "register",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models register bikes --run run:3f9c2a1b\n"
        "  loopml models register bikes --run 3f9c2a1b --path gbm --description 'adds holidays'"
    ),
)
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name (created if new).", metavar="NAME")],
    run: Annotated[
        str,
        typer.Option(
            "--run", help="The run that logged the model: run:3f9c2a1b, run-3f9c2a1b or 3f9c2a1b."
        ),
    ],
    path: Annotated[
        str, typer.Option("--path", help="Where in the run's artifacts the model is.")
    ] = "model",
    description: Annotated[
        str | None, typer.Option("--description", help="What this version is, in a sentence.")
    ] = None,
) -> None:
    """Register the model a run logged (run.log_model) as the next version of NAME."""
    client = client_of(ctx)
    record = client.runs.get_run(run)
    version = client.models.register(_name(name), record.id, path, description=description)
    inputs = (version.signature or {}).get("inputs") or []
    out = console()
    out.print(Text.assemble(("registered ", "green"), (version.uri, "bold")))
    out.print(
        key_value_table(
            None,
            [
                ("run", views.run_uri(version.run_id)),
                ("flavor", version.flavor),
                ("signature", f"{len(inputs)} input column(s)" if inputs else NONE),
                (
                    "metrics",
                    ", ".join(f"{k}={value(v)}" for k, v in sorted(version.metrics.items()))
                    or NONE,
                ),
            ],
        )
    )


@models_app.command(
    "lineage",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models lineage model:bikes/3\n"
        "  loopml models lineage bikes@champion --json"
    ),
)
def lineage(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="REF")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")] = False,
) -> None:
    """Trace a version back to its run, the run's code and environment, and its input data
    (with each dataset's parents)."""
    chain = client_of(ctx).models.lineage(ref)
    if as_json:
        print_json(chain)
        return
    out = console()
    lines = format_lineage(chain)
    out.print(Text(lines[0], style="bold"), soft_wrap=True)
    for line in lines[1:]:
        out.print(Text(line), soft_wrap=True)


@models_app.command(
    "alias",
    epilog="[bold]Example[/bold]\n\n  loopml models alias bikes staging 3",
)
def alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model.", metavar="NAME")],
    alias_: Annotated[str, typer.Argument(help="An unprotected alias.", metavar="ALIAS")],
    version: Annotated[int, typer.Argument(help="The version it points at.", metavar="VERSION")],
) -> None:
    """Point an unprotected alias at a version.

    Protected aliases (champion unless configured otherwise) move only through
    `loopml models request`.
    """
    client = client_of(ctx)
    model = client.models.model(_name(name))
    previous = model.aliases.get(alias_)
    moved = client.models.set_alias(model.name, alias_, version)
    console().print(
        Text.assemble(
            (f"{model.name}@{alias_}", "bold"),
            " → ",
            (moved.uri, "bold"),
            f"  (was {_holder(previous)})",
        )
    )


@models_app.command(
    "state",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models state model:bikes/1 DEPRECATED\n"
        "  loopml models state bikes/1 archived"
    ),
)
def state(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="REF")],
    new_state: Annotated[
        str,
        typer.Argument(help="REGISTERED, DEPRECATED or ARCHIVED (any case).", metavar="STATE"),
    ],
) -> None:
    """Change a version's lifecycle state. Only REGISTERED versions can be promoted; a
    version still holding aliases cannot be archived."""
    client = client_of(ctx)
    before = client.models.get(ref)
    after = client.models.set_state(before.id, new_state.strip().upper())
    console().print(
        Text.assemble(
            (after.uri, "bold"), ": ", views.state(before.state), " → ", views.state(after.state)
        )
    )


def _print_request(request: ApprovalRequest, headline: Text) -> None:
    out = console()
    out.print(headline)
    for part in views.request_details(request):
        out.print()
        out.print(part)
    if request.status == "PENDING":
        out.print()
        out.print(
            Text(
                f"next: an approver other than the requester runs "
                f"`loopml models approve {request.id}`",
                style="dim",
            )
        )


def _target(request: ApprovalRequest) -> str:
    return f"{request.model}@{request.alias}"


@models_app.command(
    "request",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models request model:bikes/3 --reason 'better on summer data'\n"
        "  loopml models request bikes/3 --alias champion --json"
    ),
)
def request(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The candidate version.", metavar="REF")],
    alias_: Annotated[
        str, typer.Option("--alias", help="The protected alias to move.")
    ] = "champion",
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the approvers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the request as JSON.")] = False,
) -> None:
    """Ask for a protected alias to point at a version. The policy's automatic checks run
    at once: a failed check rejects the request; with auto_approve a passing one moves the
    alias."""
    client = client_of(ctx)
    opened = client.approvals.request(ref, alias_, reason)
    if as_json:
        print_json(views.request_dict(opened))
        return
    move = f"{_target(opened)} → model:{opened.model}/{opened.version}"
    if opened.status == "APPROVED":
        headline = Text.assemble(("approved automatically: ", "green"), (move, "bold"))
    elif opened.status == "REJECTED":
        headline = Text.assemble(
            ("rejected: ", "red"),
            "an automatic check failed; ",
            (_target(opened), "bold"),
            f" stays {_holder(opened.previous_version)}",
        )
    else:
        headline = Text.assemble(("opened request ", "green"), (opened.id, "bold"), f": {move}")
    _print_request(opened, headline)


@models_app.command(
    "requests",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models requests\n"
        "  loopml models requests bikes --status PENDING"
    ),
)
def requests(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only requests about this model.", metavar="NAME")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only PENDING, APPROVED or REJECTED requests."),
    ] = None,
    limit: Limit = 50,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List approval requests, oldest first: the move asked for, who asked, the checks that
    passed and the approvals received; a page at a time."""
    client = client_of(ctx)
    wanted = None if status is None else status.strip().upper()
    if wanted is not None and wanted not in REQUEST_STATES:
        raise ValidationError(
            f"--status must be one of {', '.join(REQUEST_STATES)}, got {status!r}"
        )
    model = None if name is None else client.models.model(_name(name)).name

    def fetch(size: int, token: str | None) -> Page[ApprovalRequest]:
        return client.approvals.list(model, status=wanted, max_results=size, page_token=token)

    walked = pages(fetch, limit, page_token, every)
    if as_json:
        print_json_pages(walked, lambda _, r: views.request_dict(r), "requests")
        return
    for number, page in enumerate(walked):
        if number == 0 and not page and page_token is None:
            console().print("no requests match" if model or wanted else "no approval requests yet")
            return
        if page:
            console().print(views.request_table(page))
        note = None if every else more_note(page, "requests")
        if note:
            console().print(note, soft_wrap=True)


def _decided(client: AnyClient, request: ApprovalRequest, verb: str) -> None:
    """The outcome of approve/reject/cancel, then the request."""
    actor = client.principal.name
    if request.status == "APPROVED":
        headline = Text.assemble(
            (f"{verb} {request.id}: ", "green"),
            (_target(request), "bold"),
            " → ",
            (f"model:{request.model}/{request.version}", "bold"),
        )
    elif request.status == "PENDING":
        headline = Text.assemble(
            (f"recorded {actor}'s approval of {request.id}: ", "green"),
            f"{views.approvals_progress(request)} approvals; still PENDING",
        )
    else:
        headline = Text.assemble(
            (f"{verb} {request.id}: ", "red" if verb == "rejected" else "yellow"),
            (_target(request), "bold"),
            f" stays {_holder(request.previous_version)}",
        )
    _print_request(request, headline)


REQUEST_ID = Annotated[
    str, typer.Argument(help="The request id, e.g. req-1a2b3c4d.", metavar="REQUEST_ID")
]
COMMENT = Annotated[
    str | None, typer.Option("--comment", help="Recorded with the decision and audited.")
]


@models_app.command(
    "approve",
    epilog=(
        "[bold]Example[/bold]\n\n"
        "  LOOPML_TOKEN=lml_… loopml models approve req-1a2b3c4d --comment 'checked the card'"
    ),
)
def approve(ctx: typer.Context, request_id: REQUEST_ID, comment: COMMENT = None) -> None:
    """Approve a pending request. Needs the policy's approver role; with four-eyes the
    requester cannot approve. The alias moves once enough approvals are in."""
    client = client_of(ctx)
    _decided(client, client.approvals.approve(request_id, comment), "approved")


@models_app.command(
    "reject",
    epilog=(
        "[bold]Example[/bold]\n\n"
        "  loopml models reject req-1a2b3c4d --comment 'worse on summer data'"
    ),
)
def reject(ctx: typer.Context, request_id: REQUEST_ID, comment: COMMENT = None) -> None:
    """Reject a pending request (same rules as approve); the alias stays where it is."""
    client = client_of(ctx)
    _decided(client, client.approvals.reject(request_id, comment), "rejected")


@models_app.command(
    "cancel",
    epilog="[bold]Example[/bold]\n\n  loopml models cancel req-1a2b3c4d",
)
def cancel(ctx: typer.Context, request_id: REQUEST_ID) -> None:
    """Withdraw a pending request (its requester or an admin)."""
    client = client_of(ctx)
    _decided(client, client.approvals.cancel(request_id), "cancelled")


def read_policy_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def apply_setting(policy: dict[str, Any], item: str) -> None:
    """`key=value` (value read as JSON when it is, else as text); dotted keys reach into
    nested rules: `no_regression.margin=0.5`."""
    key, sep, raw = item.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if not sep or not all(parts):
        raise ValidationError(f"--set {item!r} must look like key=value, e.g. required_approvals=2")
    try:
        parsed: Any = json.loads(raw)
    except json.JSONDecodeError:
        parsed = raw
    target = policy
    for part in parts[:-1]:
        node = target.get(part)
        if not isinstance(node, dict):
            node = target[part] = {}
        target = node
    target[parts[-1]] = parsed


@models_app.command(
    "policy",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models policy bikes\n"
        "  loopml models policy bikes --set required_approvals=2 --set four_eyes=true\n"
        "  loopml models policy bikes --file policy.json\n"
        "  loopml models policy bikes --json > policy.json"
    ),
)
def policy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model.", metavar="NAME")],
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Replace the policy with this JSON object.", metavar="PATH"),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Change one field, e.g. required_approvals=2 or no_regression.margin=0.5; "
            "the value is read as JSON when it is valid JSON (repeatable).",
            metavar="KEY=VALUE",
        ),
    ] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Only print the policy in force (the default).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the policy as JSON (the format --file reads).")
    ] = False,
) -> None:
    """Show or set the approval policy of a model: approvals needed, approver role,
    four-eyes, auto-approve and automatic checks. Setting it needs the admin role."""
    client = client_of(ctx)
    model = client.models.model(_name(name))
    changing = file is not None or bool(settings)
    if show and changing:
        raise ValidationError("--show only reads the policy; drop it to use --file or --set")
    if changing:
        data = (
            read_policy_file(file)
            if file is not None
            else client.models.policy(model.name).model_dump(mode="json")
        )
        for item in settings or []:
            apply_setting(data, item)
        client.models.set_policy(model.name, data)
        model = client.models.model(model.name)
    in_force = client.models.policy(model.name)
    if as_json:
        print_json(in_force.model_dump(mode="json"))
        return
    out = console()
    if changing:
        out.print(Text.assemble(("policy set for ", "green"), (model.uri, "bold")))
    out.print(views.policy_table(model, in_force))


@models_app.command(
    "evaluate",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models evaluate bikes@champion --dataset bikes-summer --target bikers\n"
        "  loopml models evaluate bikes/3 --dataset bikes-summer@2 --target bikers "
        "--sensitive workingday --json"
    ),
)
def evaluate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="REF")],
    dataset: Annotated[
        str, typer.Option("--dataset", help="Dataset version to score on, e.g. bikes-summer@2.")
    ],
    target: Annotated[str, typer.Option("--target", help="The column holding the true values.")],
    sensitive: Annotated[
        list[str] | None,
        typer.Option(
            "--sensitive", help="Group by this column for fairness disparities (repeatable)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score a version on a dataset version (regression: rmse, mae, r2; classification:
    accuracy, f1, log_loss, roc_auc) and, with --sensitive, per-group fairness. The result is
    stored: model cards and approval checks reuse it."""
    client = client_of(ctx)
    version = client.models.get(ref)
    result = client.models.evaluate(version.id, dataset, target, sensitive or None)
    if as_json:
        print_json({"model": version.uri, **result})
        return
    out = console()
    out.print(views.evaluation_header(version.uri, result))
    out.print(views.pairs("metrics", result["metrics"]))
    if "fairness" in result:
        for part in views.fairness_parts(result["fairness"]):
            out.print()
            out.print(part)


@models_app.command(
    "card",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml models card bikes@champion\n"
        "  loopml models card model:bikes/3 --html card.html --markdown card.md"
    ),
)
def card(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help=REF_HELP, metavar="REF")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the card as HTML here.", metavar="PATH")
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", help="Write the card as Markdown here.", metavar="PATH"),
    ] = None,
) -> None:
    """Print a version's model card as Markdown, or write it to files: details, intended
    use, training data, metrics, evaluations, fairness, lineage and approvals."""
    client = client_of(ctx)
    version = client.models.get(ref)
    if html is None and markdown is None:
        typer.echo(client.models.card_markdown(version.id).rstrip("\n"))
        return
    out = console()
    for path, render in (
        (markdown, client.models.card_markdown),
        (html, client.models.card_html),
    ):
        if path is not None:
            path.write_text(render(version.id), encoding="utf-8")
            out.print(Text.assemble(("wrote ", "green"), str(path), f" ({version.uri})"))
