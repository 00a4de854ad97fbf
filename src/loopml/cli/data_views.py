"""Tables and JSON for dataset versions and their diffs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from loopml.cli.render import NONE, human_size, key_value_table, short_hash, signed, value, when
from loopml.data import DatasetDiff, DatasetVersion
from loopml.sdk.api import Datasets

MAX_COLUMN_NAMES = 8
MAX_TOP = 3


def parent_uri(
    datasets: Datasets, version: DatasetVersion, known: Mapping[str, str] | None = None
) -> str | None:
    """The parent's `dataset:NAME@N`, looked up unless `known` maps its id already."""
    if version.parent_id is None:
        return None
    if known and version.parent_id in known:
        return known[version.parent_id]
    return datasets.get(version.parent_id).uri


def as_dict(version: DatasetVersion, parent: str | None) -> dict[str, Any]:
    return {"uri": version.uri, "parent": parent, **dataclasses.asdict(version)}


def _column_names(version: DatasetVersion) -> str:
    names = version.columns
    shown = ", ".join(names[:MAX_COLUMN_NAMES])
    more = f", … {len(names) - MAX_COLUMN_NAMES} more" if len(names) > MAX_COLUMN_NAMES else ""
    return f"{len(names)} ({shown}{more})"


def summary(version: DatasetVersion, parent: str | None) -> Table:
    """The few facts `data add` reports."""
    return key_value_table(
        None,
        [
            ("rows", version.row_count),
            ("columns", _column_names(version)),
            ("size", human_size(version.size)),
            ("hash", short_hash(version.content_hash)),
            ("parent", parent),
        ],
    )


def metadata(version: DatasetVersion, parent: str | None) -> Table:
    return key_value_table(
        version.uri,
        [
            ("id", version.id),
            ("rows", version.row_count),
            ("columns", len(version.schema)),
            ("size", human_size(version.size)),
            ("format", f"{version.format} ({version.layout}, {len(version.files)} file(s))"),
            ("content hash", version.content_hash),
            ("time column", version.time_column),
            ("parent", parent),
            ("description", version.description),
            ("created", f"{when(version.created_at)} by {version.created_by}"),
        ],
    )


def version_table(versions: list[DatasetVersion], parents: Mapping[str, str | None]) -> Table:
    """One row per version; `parents` maps version ids to their parent's URI."""
    table = Table()
    table.add_column("dataset", no_wrap=True)
    for header in ("rows", "columns", "size"):
        table.add_column(header, justify="right")
    table.add_column("created")
    table.add_column("parent", no_wrap=True)
    for v in versions:
        table.add_row(
            v.uri,
            f"{v.row_count:,}",
            str(len(v.schema)),
            human_size(v.size),
            when(v.created_at, seconds=False),
            parents.get(v.id) or NONE,
        )
    return table


def schema(version: DatasetVersion) -> Table:
    table = Table("column", "type", "nullable", title="schema", title_justify="left")
    for column in version.schema:
        table.add_row(column["name"], column["type"], "yes" if column["nullable"] else "no")
    return table


def _top(stats: Mapping[str, Any]) -> str:
    top = stats.get("top") or []
    shown = ", ".join(f"{t['value']} ({t['count']:,})" for t in top[:MAX_TOP])
    return shown + (", …" if len(top) > MAX_TOP else "") if shown else NONE


def _stat(item: Any) -> str:
    """A statistic; ISO timestamps lose their `T` to read like the rest of the table."""
    if isinstance(item, str) and len(item) >= 19 and item[10] == "T":
        return item.replace("T", " ", 1)
    return value(item)


def profile(version: DatasetVersion) -> Table:
    headers = ("nulls", "min", "max", "mean", "std", "median")
    table = Table("column", title="profile", title_justify="left")
    for header in headers:
        table.add_column(header, justify="right")
    table.add_column("top values")
    for name in version.columns:
        stats = version.profile.get(name, {})
        nulls = f"{stats.get('nulls', 0):,} ({stats.get('null_fraction', 0.0):.0%})"
        median = (stats.get("quantiles") or {}).get("0.5")
        table.add_row(
            name,
            nulls,
            *(_stat(stats.get(key)) for key in ("min", "max", "mean", "std")),
            value(median),
            _top(stats),
        )
    return table


def row_change(diff: DatasetDiff) -> Text:
    return Text.assemble(
        ("rows ", "bold"), f"{diff.rows_old:,} → {diff.rows_new:,} ({signed(diff.row_delta)})"
    )


def schema_changes(diff: DatasetDiff) -> RenderableType:
    if not diff.schema_changed:
        return Text("schema unchanged")
    table = Table("change", "column", "old type", "new type", title="schema", title_justify="left")
    for column in diff.added:
        table.add_row(Text("added", style="green"), column["name"], "", column["type"])
    for column in diff.removed:
        table.add_row(Text("removed", style="red"), column["name"], column["type"], "")
    for column in diff.type_changed:
        table.add_row(Text("type", style="yellow"), column["name"], column["old"], column["new"])
    return table


def _stat_row(stat: str, change: Mapping[str, Any]) -> tuple[str, str, str]:
    old, new, delta = change.get("old"), change.get("new"), change.get("delta")
    if stat == "null_fraction":
        pct = [NONE if x is None else f"{x:.1%}" for x in (old, new)]
        return pct[0], pct[1], "" if delta is None else f"{delta * 100:+.1f} pp"
    return _stat(old), _stat(new), signed(delta)


def profile_changes(diff: DatasetDiff) -> RenderableType:
    table = Table("column", "statistic", title="column changes", title_justify="left")
    for header in ("old", "new", "delta"):
        table.add_column(header, justify="right")
    for name, stats in diff.columns.items():
        for stat, change in stats.items():
            if stat in ("top_added", "top_removed") or change["old"] == change["new"]:
                continue
            table.add_row(name, stat, *_stat_row(stat, change))
        added, removed = stats.get("top_added", []), stats.get("top_removed", [])
        if added or removed:
            moves = [f"+{v}" for v in added] + [f"-{v}" for v in removed]
            table.add_row(name, "top values", "", "", " ".join(moves))
    if not table.rows:
        return Text("column statistics unchanged")
    return table
