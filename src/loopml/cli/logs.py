"""`loopml log …`: read a deployment's prediction log a page at a time, and compact it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.paging import ALL_PAGE_SIZE, AllPages, Limit, PageToken
from loopml.cli.render import console, print_json, when
from loopml.errors import ValidationError
from loopml.monitoring.definition import parse_duration
from loopml.prediction_log.compaction import MIN_AGE_S, PARTITION_S, RETIRE_GRACE_S
from loopml.prediction_log.compaction import compact as compact_log
from loopml.prediction_log.pages import page_frame

log_app = typer.Typer(
    help="A deployment's prediction log: read windows of it page by page, compact it.",
    no_args_is_help=True,
)

TIME_HELP = "epoch seconds or an ISO 8601 date/time (UTC unless it says otherwise)"
SHOWN = ("time", "request_id", "model", "shadow", "row", "prediction", "latency_ms")


def parse_time(text: str | None, what: str) -> float | None:
    """Epoch seconds from `1700000000`, `2026-12-01` or `2026-12-01T10:00:00+01:00`."""
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValidationError(
                f"{what} {text!r} is not a time: write epoch seconds or an ISO date such as "
                "2026-12-01T10:00"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    if not math.isfinite(seconds):
        raise ValidationError(f"{what} must be a finite time, got {text!r}")
    return seconds


def _seconds(text: str, what: str) -> float:
    return 0.0 if text.strip() in ("0", "0s") else parse_duration(text, what)


@log_app.command(
    "predictions",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml log predictions bikes --since 2026-12-01T10:00 --until 2026-12-01T11:00\n"
        "  loopml log predictions bikes --labelled --limit 100 --page-token eyJs…\n"
        "  loopml log predictions bikes --since 1764583200 --all --json > window.jsonl"
    ),
)
def predictions(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment.", metavar="DEPLOYMENT")],
    since: Annotated[str | None, typer.Option("--since", help=f"From ({TIME_HELP}).")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help=f"Up to, excluded ({TIME_HELP}).")
    ] = None,
    labelled: Annotated[
        bool, typer.Option("--labelled", help="Only rows with feedback, with their label.")
    ] = False,
    shadow: Annotated[bool, typer.Option("--shadow", help="Shadow answers too.")] = False,
    limit: Limit = 50,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per row (JSON lines).")
    ] = False,
) -> None:
    """Prediction rows of a time window, oldest first, a page at a time (flushed rows only)."""
    stores = client_of(ctx).stores
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    token, first = page_token, True
    out = console()
    while True:
        page = page_frame(
            stores,
            deployment,
            since=start,
            until=end,
            include_shadow=shadow,
            labelled=labelled,
            max_rows=ALL_PAGE_SIZE if every else limit,
            page_token=token,
        )
        if as_json:
            for record in page.frame.to_dict(orient="records"):
                typer.echo(json.dumps({k: _plain(v) for k, v in record.items()}, default=str))
        elif first and page.frame.empty and page_token is None:
            out.print(f"no flushed predictions of {deployment} in that window")
        elif not page.frame.empty:
            out.print(_table(page.frame))
        first, token = False, page.next_page_token
        if token is None or not every:
            break
    if token is not None:
        note = f"more rows: --page-token {token} (or --all for every page)"
        if as_json:
            typer.echo(note, err=True)
        else:
            out.print(note, soft_wrap=True)


def _plain(value: Any) -> Any:
    """NaN (a missing value in a frame) as null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _table(frame: pd.DataFrame) -> Table:
    extra = [c for c in ("label", "label_time") if c in frame.columns]
    table = Table(*[c for c in SHOWN if c in frame.columns], *extra)
    for record in frame.to_dict(orient="records"):
        cells = []
        for column in [c for c in SHOWN if c in frame.columns] + extra:
            item = record[column]
            cells.append(when(item) if column in ("time", "label_time") else str(_plain(item)))
        table.add_row(*cells)
    return table


@log_app.command(
    "compact",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  loopml log compact\n"
        "  loopml log compact bikes --partition 1h --min-age 10m --json"
    ),
)
def compact(
    ctx: typer.Context,
    deployment: Annotated[
        str | None,
        typer.Argument(help="Only this deployment's log (default: all).", metavar="DEPLOYMENT"),
    ] = None,
    partition: Annotated[
        str, typer.Option("--partition", help="Time span of one compacted segment (divides 1d).")
    ] = f"{PARTITION_S // 60}m",
    min_age: Annotated[
        str, typer.Option("--min-age", help="Compact a partition once it ended this long ago.")
    ] = f"{int(MIN_AGE_S // 60)}m",
    grace: Annotated[
        str,
        typer.Option("--grace", help="Delete replaced segment files this long after."),
    ] = f"{int(RETIRE_GRACE_S // 60)}m",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Merge the small per-flush segments of each closed time partition into one sorted
    segment, so window queries open a file or two; safe to interrupt at any point."""
    partition_s = parse_duration(partition, "--partition")
    if not partition_s.is_integer():
        raise ValidationError(f"--partition must be a whole number of seconds, got {partition!r}")
    report = compact_log(
        client_of(ctx).stores,
        deployment,
        partition_s=int(partition_s),
        min_age_s=_seconds(min_age, "--min-age"),
        retire_grace_s=_seconds(grace, "--grace"),
    )
    if as_json:
        print_json(report.to_dict())
        return
    console().print(
        Text.assemble(
            ("compacted: ", "green"),
            f"{report.segments_in:,} segments → {report.segments_out:,} in "
            f"{report.partitions:,} partitions ({report.rows:,} rows); "
            f"{report.blobs_removed:,} replaced files deleted",
            f"; {report.skipped} left to another compactor" if report.skipped else "",
        )
    )
