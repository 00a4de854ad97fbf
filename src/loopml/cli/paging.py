"""Options and output shared by the listing commands: `--limit`, `--page-token`, `--all`.

A listing prints one page (`--limit` rows) and, when more exist, the token that continues
it. `--all` walks every page, printing each as it arrives, so memory stays bounded by one
page however long the listing is; with `--json` the pages form one JSON array.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Annotated, Any, TypeVar

import typer

from loopml.errors import ValidationError
from loopml.store.paging import MAX_PAGE, Page

T = TypeVar("T")

Limit = Annotated[
    int,
    typer.Option("--limit", "-n", help="Show at most N per page.", metavar="N", min=1),
]
PageToken = Annotated[
    str | None,
    typer.Option(
        "--page-token", help="Continue after the page that printed this token.", metavar="TOKEN"
    ),
]
AllPages = Annotated[
    bool, typer.Option("--all", help="Print every page, one after the other (ignores --limit).")
]

ALL_PAGE_SIZE = 1000


def pages(
    fetch: Callable[[int, str | None], Page[T]],
    limit: int,
    page_token: str | None,
    every: bool,
) -> Iterator[Page[T]]:
    """The page asked for, or with `every` each page in turn (`fetch(size, token)`)."""
    if limit > MAX_PAGE:
        raise ValidationError(f"--limit must be at most {MAX_PAGE:,}, got {limit:,}")
    size = ALL_PAGE_SIZE if every else limit
    token = page_token
    while True:
        page = fetch(size, token)
        yield page
        token = page.next_page_token
        if not every or token is None:
            return


def print_json_pages(
    walked: Iterator[Page[T]], as_dict: Callable[[Page[T], T], Any], noun: str
) -> None:
    """The items of the pages as one JSON array, written a page at a time (what `--json`
    prints); the token of a next page goes to stderr, so stdout stays valid JSON."""
    first_page = next(walked)  # a bad token fails here, before anything is printed
    typer.echo("[", nl=False)
    first = True
    last: Page[T] | None = None
    for page in chain([first_page], walked):
        for item in page:
            body = json.dumps(as_dict(page, item), indent=2, default=str).replace("\n", "\n  ")
            typer.echo(("\n  " if first else ",\n  ") + body, nl=False)
            first = False
        last = page
    typer.echo("]" if first else "\n]")
    note = None if last is None else more_note(last, noun)
    if note:
        typer.echo(note, err=True)


def more_note(page: Page[Any], noun: str) -> str | None:
    """What to type for the next page, or None after the last one."""
    if page.next_page_token is None:
        return None
    return f"more {noun}: --page-token {page.next_page_token} (or --all for every page)"
