"""`loopml audit …`: read the MAC-chained audit trail, verify nobody edited it, re-key it."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from loopml.cli.context import client_of, workspace_client_of
from loopml.cli.paging import AllPages, PageToken, pages, print_json_pages
from loopml.cli.render import console, print_json, when
from loopml.errors import ValidationError
from loopml.governance import AuditEvent
from loopml.governance.rotation import rotate_key
from loopml.store.paging import Page
from loopml.store.seal import parse_secret

VERIFY_FAILED_EXIT = 1
DETAILS_WIDTH = 60
DETAILS_MIN = 20

audit_app = typer.Typer(
    help="The audit trail: every change, who made it and when, in a keyed tamper-evident chain.",
    no_args_is_help=True,
)


def details_text(details: dict[str, Any], width: int = DETAILS_WIDTH) -> str:
    """`{"from": 1, "to": 2}` → `from=1 to=2`, cut at `width` characters."""
    text = " ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v, default=str)}" for k, v in details.items()
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def event_table(events: Sequence[AuditEvent], width: int, title: str | None = None) -> Table:
    """One row per event; the details are cut to what is left of `width` characters."""
    cells = [(str(e.seq), when(e.time), e.actor, e.action, e.object, e.details) for e in events]
    headers = ("seq", "time", "actor", "action", "object")
    used = 1 + sum(max(len(h), *(len(row[i]) for row in cells)) + 3 for i, h in enumerate(headers))
    room = max(DETAILS_MIN, min(DETAILS_WIDTH, width - used - 3))
    table = Table(title=title, title_justify="left")
    table.add_column("seq", justify="right", no_wrap=True)
    for header in headers[1:]:
        table.add_column(header, no_wrap=True)
    table.add_column("details")
    for *fixed, details in cells:
        table.add_row(*fixed, details_text(details, room))
    return table


@audit_app.command(
    "log",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml audit log\n"
        "  loopml audit log --object model:bikes        (its versions and aliases too)\n"
        "  loopml audit log --limit 500 --json\n"
        "  loopml audit log --page-token eyJs…          (the 50 events before those shown)\n"
        "  loopml audit log --all --oldest-first --json (the whole trail, a page at a time)"
    ),
)
def log(
    ctx: typer.Context,
    obj: Annotated[
        str | None,
        typer.Option(
            "--object",
            help="Only events about this object and those under it, e.g. model:bikes "
            "(also model:bikes/3, model:bikes@champion), dataset:bikes, run:3f9c2a1b, "
            "request:req-1a2b3c4d, principal:alice.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Show the newest N events.", metavar="N")
    ] = 50,
    page_token: PageToken = None,
    every: AllPages = False,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Walk the trail from its first event.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List audit events: sequence number, time, actor, action, object and details. A page
    holds the newest N events (printed oldest first); its token continues with the ones
    before them. With --oldest-first, pages run from the first event on."""
    if limit < 1:
        raise ValidationError(f"--limit must be at least 1, got {limit}")
    audit = client_of(ctx).audit

    def fetch(size: int, token: str | None) -> Page[AuditEvent]:
        found = audit.events(obj, newest_first=not oldest_first, max_results=size, page_token=token)
        return found if oldest_first else Page(found[::-1], found.next_page_token)

    walked = pages(fetch, limit, page_token, every)
    if as_json:
        print_json_pages(walked, lambda _, e: dataclasses.asdict(e), "events")
        return
    out = console()
    for number, page in enumerate(walked):
        if number == 0 and not page and page_token is None:
            out.print(f"no audit events about {obj}" if obj else "no audit events yet")
            return
        if page:
            out.print(event_table(page, out.width))
        if not every and page.next_page_token is not None:
            which = "first" if oldest_first else "newest"
            after = "later" if oldest_first else "older"
            out.print(
                f"showing the {which} {len(page)} events; {after} ones exist: --page-token "
                f"{page.next_page_token} (or raise --limit, or --all)",
                soft_wrap=True,
            )


@audit_app.command(
    "verify",
    epilog="[bold]Examples[/bold]\n\n  loopml audit verify\n  loopml audit verify --json",
)
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Recompute every MAC of the trail under the audit key and compare it with the
    checkpoints kept outside the store. Exit code 0: intact; 1: an event was edited,
    deleted, inserted or reordered, events were cut from the end or wiped, or the key was
    replaced (the first bad event is named)."""
    audit = client_of(ctx).audit
    result = audit.verify()
    if as_json:
        print_json(dataclasses.asdict(result))
    elif result.ok:
        console().print(
            Text.assemble(("audit trail intact: ", "green"), f"{result.checked:,} events")
        )
    else:
        out = console()
        out.print(
            Text.assemble(
                ("audit trail BROKEN at event ", "bold red"),
                (str(result.first_bad_seq), "bold red"),
                f": {result.reason}",
            ),
            soft_wrap=True,
        )
        bad = None if result.first_bad_seq is None else audit.event(result.first_bad_seq)
        if bad is not None:
            out.print(event_table([bad], out.width, title="as stored now"))
        out.print(f"the {result.checked:,} event(s) before it are intact")
    if not result.ok:
        raise typer.Exit(VERIFY_FAILED_EXIT)


@audit_app.command(
    "rotate-key",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml audit rotate-key\n"
        "  NEW=$(openssl rand -hex 32) loopml audit rotate-key --new-key-env NEW"
    ),
)
def rotate(
    ctx: typer.Context,
    new_key_env: Annotated[
        str | None,
        typer.Option(
            "--new-key-env",
            help="Read the new key (hex or base64, 32+ bytes) from this environment "
            "variable; needed when the key comes from the audit_key setting. Default: a "
            "new random key written to the key file.",
            metavar="NAME",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-MAC the whole audit trail under a new key (admins only). The trail must verify
    first; the rotation is itself an audit event."""
    new_key = None
    if new_key_env is not None:
        value = os.environ.get(new_key_env)
        if not value:
            raise ValidationError(f"--new-key-env {new_key_env}: that variable is not set")
        new_key = parse_secret(value)
    client = workspace_client_of(ctx)  # re-keying needs the store and the key itself
    done = rotate_key(client.stores, new_key)
    if as_json:
        print_json(dataclasses.asdict(done))
        return
    out = console()
    out.print(
        Text.assemble(
            ("re-keyed the audit trail: ", "green"),
            f"{done.events:,} events now under key {done.new_key_id} ",
            (f"(was {done.old_key_id}; rotation recorded as event {done.seq})", "dim"),
        )
    )
    if client.stores.seal.from_secret:
        out.print(
            Text(
                f"now set LOOPML_AUDIT_KEY to the new key (from ${new_key_env}) for every "
                "process that writes to this store",
                style="bold yellow",
            )
        )
