"""`loopml data …`: version, list, inspect and compare datasets."""

from __future__ import annotations

import time
from itertools import chain
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from loopml.cli import data_views
from loopml.cli.context import client_of
from loopml.cli.paging import AllPages, Limit, PageToken, more_note, pages, print_json_pages
from loopml.cli.render import console, print_json
from loopml.data import DatasetVersion
from loopml.errors import NotFoundError
from loopml.sdk.api import Datasets
from loopml.store.paging import Page

data_app = typer.Typer(
    help="Version datasets (Parquet or CSV files and folders) and inspect their versions.",
    no_args_is_help=True,
)


@data_app.command(
    "add",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml data add bikes data/bikes.parquet --time-column dteday\n"
        "  loopml data add bikes data/2024/ --description 'adds 2024'\n"
        "  loopml data add bikes-clean clean.csv --parent bikes@3"
    ),
)
def add(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Dataset name: letters, digits, '_', '.', '-'.", metavar="NAME")
    ],
    path: Annotated[
        Path, typer.Argument(help="A Parquet/CSV file, or a folder of them.", metavar="PATH")
    ],
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Column holding event time.")
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option("--parent", help="Version this one derives from (default: latest of NAME)."),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What changed, in a sentence.")
    ] = None,
) -> None:
    """Log a file or folder as a new version of dataset NAME.

    The version is identified by the hash of its bytes: adding identical content again
    creates nothing and reports the version that already holds it.
    """
    datasets = client_of(ctx).datasets
    started = time.time()
    version = datasets.log(
        name, path, time_column=time_column, parent=parent, description=description
    )
    out = console()
    if version.created_at < started:  # the content was already a version
        out.print(Text.assemble(("unchanged: ", "yellow"), "identical to ", (version.uri, "bold")))
    else:
        out.print(Text.assemble(("logged ", "green"), (version.uri, "bold")))
    out.print(data_views.summary(version, data_views.parent_uri(datasets, version)))


@data_app.command(
    "list",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml data list\n"
        "  loopml data list bikes\n"
        "  loopml data list --limit 20 --page-token eyJs…\n"
        "  loopml data list --all --json"
    ),
)
def list_(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Only versions of this dataset.", metavar="NAME")
    ] = None,
    limit: Limit = 50,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List dataset versions, oldest first, grouped by name, a page at a time."""
    datasets = client_of(ctx).datasets

    def fetch(size: int, token: str | None) -> Page[DatasetVersion]:
        return datasets.list(name, max_results=size, page_token=token)

    walked = pages(fetch, limit, page_token, every)
    first = next(walked)
    if name is not None and not first and page_token is None:
        raise NotFoundError(f"no dataset named {name!r}; `loopml data list` shows what exists")
    if as_json:
        print_json_pages(
            chain([first], walked),
            lambda page, v: data_views.as_dict(v, _parent(datasets, page, v)),
            "versions",
        )
        return
    out = console()
    if not first and page_token is None:
        out.print("no dataset versions yet; add one with `loopml data add NAME PATH`")
        return
    for page in chain([first], walked):
        if page:
            parents = {v.id: _parent(datasets, page, v) for v in page}
            out.print(data_views.version_table(page, parents))
        note = None if every else more_note(page, "versions")
        if note:
            out.print(note, soft_wrap=True)


def _parent(datasets: Datasets, page: Page[DatasetVersion], version: DatasetVersion) -> str | None:
    return data_views.parent_uri(datasets, version, {v.id: v.uri for v in page})


@data_app.command(
    "show",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml data show bikes            (the latest version)\n"
        "  loopml data show dataset:bikes@2\n"
        "  loopml data show bikes@2 --json"
    ),
)
def show(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="NAME, NAME@VERSION, dataset:NAME@VERSION or id.", metavar="REF")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full version as JSON.")
    ] = False,
) -> None:
    """Show a dataset version: metadata, schema and per-column profile."""
    datasets = client_of(ctx).datasets
    version = datasets.get(ref)
    parent = data_views.parent_uri(datasets, version)
    if as_json:
        print_json(data_views.as_dict(version, parent))
        return
    out = console()
    out.print(data_views.metadata(version, parent))
    out.print()
    out.print(data_views.schema(version))
    out.print()
    out.print(data_views.profile(version))


@data_app.command(
    "diff",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml data diff bikes@1 bikes@2\n"
        "  loopml data diff bikes@1 bikes --json      (against the latest)"
    ),
)
def diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="The earlier version, e.g. bikes@1.", metavar="OLD")],
    new: Annotated[str, typer.Argument(help="The later version, e.g. bikes@2.", metavar="NEW")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Compare two dataset versions: schema, row count and column statistics.

    Uses the stored schema and profile only, so it is instant whatever the data size.
    """
    result = client_of(ctx).datasets.diff(old, new)
    if as_json:
        print_json(result.to_dict())
        return
    out = console()
    out.print(Text.assemble((result.old, "bold"), " → ", (result.new, "bold")))
    out.print(data_views.row_change(result))
    out.print()
    out.print(data_views.schema_changes(result))
    out.print()
    out.print(data_views.profile_changes(result))


@data_app.command(
    "download",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml data download bikes@2 ./bikes-v2\n"
        "  loopml --server http://loopml:8080 data download dataset:bikes@latest data/"
    ),
)
def download(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="NAME, NAME@VERSION, dataset:NAME@VERSION or id.", metavar="REF")
    ],
    destination: Annotated[
        Path, typer.Argument(help="Folder to write the version's files into.", metavar="FOLDER")
    ],
) -> None:
    """Write a dataset version's files into a folder, each checked against its hash."""
    datasets = client_of(ctx).datasets
    version = datasets.get(ref)
    written = datasets.download(version, destination)
    out = console()
    out.print(Text.assemble(("downloaded ", "green"), (version.uri, "bold"), f" → {destination}"))
    for path in written:
        out.print(f"  {path}", soft_wrap=True)
