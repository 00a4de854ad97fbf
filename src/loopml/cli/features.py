"""`loopml features …`: register definitions, inspect them, materialize online values."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.render import console, key_value_table, print_json, when
from loopml.errors import NotFoundError
from loopml.features import Change, FeatureStore, load_definitions
from loopml.features.registry import KIND_LABEL
from loopml.features.usage import usage

features_app = typer.Typer(
    help="Feature store: define features once, build point-in-time training sets, serve them.",
    no_args_is_help=True,
)
MODULE_HELP = "A .py file or an importable module that defines the features."
_STYLE = {"create": "green", "update": "yellow", "unchanged": "dim", "refused": "red"}


def _store(ctx: typer.Context) -> FeatureStore:
    return client_of(ctx).features


def _print_changes(changes: list[Change], applied: bool) -> None:
    out = console()
    table = Table("action", "kind", "name", "version", "details")
    for c in changes:
        table.add_row(
            Text(c.action, _STYLE[c.action]),
            KIND_LABEL[c.kind],
            c.name,
            str(c.version),
            "\n".join(c.details),
        )
    out.print(table)
    counts = {a: sum(c.action == a for c in changes) for a in _STYLE}
    summary = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
    out.print(("applied: " if applied else "plan: ") + summary)


@features_app.command(
    "plan",
    epilog="[bold]Examples[/bold]\n\n  loopml features plan features.py",
)
def plan(
    ctx: typer.Context,
    module: Annotated[str, typer.Argument(help=MODULE_HELP, metavar="MODULE")],
) -> None:
    """Show what `apply` would create, update or refuse (and why), changing nothing."""
    changes = _store(ctx).plan(load_definitions(module))
    _print_changes(changes, applied=False)
    if any(c.action == "refused" for c in changes):
        raise typer.Exit(1)


@features_app.command(
    "apply",
    epilog="[bold]Examples[/bold]\n\n  loopml features apply features.py\n"
    "  loopml features apply mypackage.features",
)
def apply(
    ctx: typer.Context,
    module: Annotated[str, typer.Argument(help=MODULE_HELP, metavar="MODULE")],
) -> None:
    """Register the module's entities, views and services; each change is a new version.

    An incompatible change (a feature's type, a removed feature still used by a service,
    other join keys) is refused and nothing is applied.
    """
    changes = _store(ctx).apply(load_definitions(module))
    _print_changes(changes, applied=True)


@features_app.command(
    "list",
    epilog="[bold]Examples[/bold]\n\n  loopml features list\n  loopml features list --json",
)
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """List entities, feature views (with freshness), on-demand views and services."""
    store = _store(ctx)
    latest = store.registry.latest()
    if as_json:
        print_json(
            [
                {"kind": s.kind, "name": s.name, "version": s.version, "spec": s.spec}
                for s in latest.values()
            ]
        )
        return
    out = console()
    if not latest:
        out.print("no features yet: `loopml features apply MODULE` registers them")
        return
    table = Table("kind", "name", "version", "what", "freshness")
    for (kind, name), stored in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        fresh = ""
        if kind == "view":
            f = store.freshness(name)
            fresh = (
                "never materialized"
                if f.materialized_at is None
                else (f"materialized {when(f.materialized_at)}")
            )
        table.add_row(KIND_LABEL[kind], name, str(stored.version), _what(kind, stored.spec), fresh)
    out.print(table)


def _what(kind: str, spec: dict[str, Any]) -> str:
    if kind == "entity":
        return "keys: " + ", ".join(spec["join_keys"])
    if kind == "view":
        return f"{len(spec['features'])} features from {spec['source']}"
    if kind == "on_demand":
        return f"{len(spec['features'])} features by {spec['function']}"
    return f"{len(spec['features'])} features"


@features_app.command(
    "show",
    epilog="[bold]Examples[/bold]\n\n  loopml features show station_stats\n"
    "  loopml features show demand --json",
)
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="An entity, view or service name.", metavar="NAME")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One definition: its spec and versions; freshness and runs of a view; the model versions
    and deployments that use a view or service."""
    store = _store(ctx)
    found = [k for k in KIND_LABEL if (k, name) in store.registry.latest(k)]
    if not found:
        raise NotFoundError(f"no entity, view or service {name!r}; `loopml features list`")
    kind = found[0]
    stored = store.registry.get(kind, name)
    used = usage(
        store.stores,
        service=name if kind == "service" else None,
        view=name if kind == "view" else None,
    )
    fresh = store.freshness(name) if kind == "view" else None
    doc: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "version": stored.version,
        "spec": stored.spec,
        "created_by": stored.created_by,
        "created_at": stored.created_at,
        "model_versions": list(used.model_versions),
        "deployments": list(used.deployments),
        "training_sets": list(used.training_sets),
    }
    if fresh is not None:
        doc["freshness"] = fresh.__dict__
        doc["runs"] = [r.__dict__ for r in store.runs(name, 5)]
    if as_json:
        print_json(doc)
        return
    rows: list[tuple[str, Any]] = [
        ("kind", KIND_LABEL[kind]),
        ("version", stored.version),
        ("created", f"{when(stored.created_at)} by {stored.created_by}"),
        ("spec", stored.spec),
        ("model versions", ", ".join(used.model_versions) or "none"),
        ("deployments", ", ".join(used.deployments) or "none"),
    ]
    if fresh is not None:
        rows.append(
            ("materialized", when(fresh.materialized_at) if fresh.materialized_at else "never")
        )
        rows.append(("newest event online", when(fresh.watermark) if fresh.watermark else "none"))
    console().print(key_value_table(f"{KIND_LABEL[kind]} {name}", rows))


@features_app.command(
    "materialize",
    epilog="[bold]Examples[/bold]\n\n  loopml features materialize\n"
    "  loopml features materialize station_stats --incremental",
)
def materialize(
    ctx: typer.Context,
    views: Annotated[
        list[str] | None, typer.Argument(help="Views (default: every online view).", metavar="VIEW")
    ] = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only rows newer than the last run's.")
    ] = False,
) -> None:
    """Copy the latest value per entity (within TTL) into the online store."""
    runs = _store(ctx).materialize(views, incremental=incremental)
    table = Table("view", "mode", "entities", "newest event", "run")
    for r in runs:
        table.add_row(
            r.view, r.mode, str(r.entities), when(r.watermark) if r.watermark else "-", r.id
        )
    console().print(table)
