"""Formatting shared by the commands: consoles, numbers, sizes, times, JSON."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

NONE = "—"
STATUS_STYLES = {"FINISHED": "green", "FAILED": "red", "RUNNING": "yellow", "KILLED": "magenta"}


def console() -> Console:
    """A console on stdout, built per call so redirected streams are honoured.

    Markup is off: names, descriptions and category values print exactly as stored; styles
    come from `Text` objects.
    """
    return Console(highlight=False, markup=False)


def print_error(message: str) -> None:
    """`error: …` in red, on one line, on stderr."""
    line = " ".join(message.split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(f"error: {line}", style="red"))


def print_json(value: Any) -> None:
    """Machine-readable output: plain JSON, no colours or wrapping."""
    typer.echo(json.dumps(value, indent=2, default=str))


def human_size(size: int | None) -> str:
    """1536 → `1.5 KiB`."""
    if size is None:
        return NONE
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return NONE  # unreachable: the loop returns at TiB


def when(timestamp: float | None, *, seconds: bool = True) -> str:
    """A Unix time as local `YYYY-MM-DD HH:MM:SS` (or without seconds, for tables)."""
    if timestamp is None:
        return NONE
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(timestamp).strftime(pattern)


def duration(seconds: float | None) -> str:
    """`0.4s`, `12.3s`, `3m 04s`, `2h 05m`."""
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def value(item: Any) -> str:
    """A param, metric or statistic for a table cell."""
    if item is None:
        return NONE
    if isinstance(item, bool):
        return str(item).lower()
    if isinstance(item, int):
        return f"{item:,}"
    if isinstance(item, float):
        if math.isnan(item) or math.isinf(item):
            return str(item)
        return f"{item:,.0f}" if item.is_integer() and abs(item) >= 1e6 else f"{item:.6g}"
    return str(item)


def signed(item: Any) -> str:
    """A delta with its sign: `+3`, `-0.25`; blank when there is none."""
    if item is None:
        return ""
    if isinstance(item, int | float) and not isinstance(item, bool):
        return ("+" if item > 0 else "") + value(item)
    return str(item)


def short_hash(digest: str, length: int = 12) -> str:
    return digest[:length]


def status(name: str) -> Text:
    return Text(name, style=STATUS_STYLES.get(name, ""))


def key_value_table(title: str | None, rows: list[tuple[str, Any]]) -> Table:
    """A two-column table without header, for an object's fields."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, item in rows:
        table.add_row(key, item if isinstance(item, Text) else value(item))
    return table
