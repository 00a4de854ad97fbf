"""Tables for runs: a listing, one run in full, several side by side."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import zip_longest
from typing import Any

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from loopml.cli.render import duration, human_size, key_value_table, status, value, when
from loopml.store import short_id
from loopml.tracking import RunRecord

KEY_COLUMNS = 3
DIFFERS = "*"


def pick_keys(runs: Sequence[RunRecord], kind: str, limit: int = KEY_COLUMNS) -> list[str]:
    """The `limit` most common keys of `kind` ("params" or "metrics"), ties by name."""
    counts: Counter[str] = Counter(k for run in runs for k in getattr(run, kind))
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def _width(header: str, cells: Iterable[str]) -> int:
    """Characters a column takes: its widest cell plus padding and border."""
    return max([len(header), *(len(c) for c in cells)]) + 3


def key_columns(
    runs: Sequence[RunRecord], sort_keys: Sequence[tuple[str, str, bool]]
) -> list[tuple[str, str]]:
    """(kind, key) columns by priority: the sort keys, then metrics and params alternating."""
    first = [(f"{kind}s", key) for kind, key, _ in sort_keys if kind in ("param", "metric")]
    params = [("params", k) for k in pick_keys(runs, "params")]
    metrics = [("metrics", k) for k in pick_keys(runs, "metrics")]
    rest = [item for pair in zip_longest(metrics, params) for item in pair if item is not None]
    return list(dict.fromkeys(first + rest))


def run_table(runs: Sequence[RunRecord], candidates: list[tuple[str, str]], width: int) -> Table:
    """Runs as rows, with as many (kind, key) columns of `candidates` as fit in `width`."""
    experiments = {run.experiment for run in runs}
    base: dict[str, list[str]] = {"run": [short_id(r.id) for r in runs]}
    if len(experiments) > 1:
        base["experiment"] = [r.experiment for r in runs]
    base["name"] = [r.name for r in runs]
    base["status"] = [r.status for r in runs]
    base["start"] = [when(r.start_time, seconds=False) for r in runs]
    base["duration"] = [duration(r.duration_s) for r in runs]
    used = 1 + sum(_width(h, cells) for h, cells in base.items())
    extra: dict[str, list[str]] = {}
    for kind, key in candidates:
        cells = [value(getattr(r, kind).get(key)) for r in runs]
        needed = _width(max(kind, key, key=len), cells)  # header lines: kind, then key
        if used + needed <= width:
            extra[f"{kind}\n{key}"] = cells
            used += needed
    title = f"runs of {experiments.pop()}" if len(experiments) == 1 else None
    hidden = len(candidates) - len(extra)
    caption = (
        f"{hidden} more param/metric column(s) do not fit; widen the terminal" if hidden else None
    )
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for header in base:
        table.add_column(header, no_wrap=True, justify="right" if header == "duration" else "left")
    ordered = [h for h in extra if h.startswith("params")]
    ordered += [h for h in extra if h.startswith("metrics")]
    for header in ordered:
        table.add_column(header, justify="right" if header.startswith("metrics") else "left")
    for i, run in enumerate(runs):
        row: list[str | Text] = [column[i] for column in base.values()]
        row[list(base).index("status")] = status(run.status)
        table.add_row(*row, *(extra[h][i] for h in ordered))
    return table


def _pairs(title: str, items: Mapping[str, Any]) -> Table:
    table = Table("key", "value", title=title, title_justify="left")
    for key in sorted(items):
        table.add_row(key, value(items[key]))
    return table


def _code(run: RunRecord) -> str:
    if run.git_commit is None:
        return "not captured (no git repository)"
    state = "dirty" if run.git_dirty else "clean"
    diff = f", diff {run.git_diff_digest[:12]}" if run.git_diff_digest else ""
    return f"git {run.git_commit[:12]} ({state}{diff})"


def _environment(run: RunRecord) -> str:
    env = run.environment
    if not env:
        return "not captured"
    return (
        f"Python {env.get('python', '?')} on {env.get('platform', '?')}, "
        f"{env.get('packages', '?')} packages"
    )


def info(run: RunRecord) -> Table:
    return key_value_table(
        f"{run.uri}  ({run.id})",
        [
            ("experiment", run.experiment),
            ("name", run.name),
            ("status", status(run.status)),
            ("start", when(run.start_time)),
            ("end", when(run.end_time)),
            ("duration", duration(run.duration_s)),
            ("parent", run.parent_id),
            ("created by", run.created_by),
            ("code", _code(run)),
            ("environment", _environment(run)),
        ],
    )


def details(run: RunRecord, artifacts: list[dict[str, Any]]) -> list[RenderableType]:
    """Everything after the info block, sections with nothing to show left out."""
    parts: list[RenderableType] = []
    for title, items in (("params", run.params), ("metrics (latest)", run.metrics)):
        parts.append(_pairs(title, items) if items else Text(f"{title}: none", style="dim"))
    if run.tags:
        parts.append(_pairs("tags", run.tags))
    if run.inputs:
        table = Table("dataset", "role", title="inputs", title_justify="left")
        for item in run.inputs:
            table.add_row(item["dataset"], item["role"])
        parts.append(table)
    if artifacts:
        table = Table("path", "media type", title="artifacts", title_justify="left")
        table.add_column("size", justify="right")
        for artifact in artifacts:
            table.add_row(artifact["path"], artifact["media_type"], human_size(artifact["size"]))
        parts.append(table)
    if run.error:
        parts.append(Panel(Text(run.error), title="error", title_align="left", style="red"))
    return parts


def _row(label: str, cells: list[str]) -> tuple[Text, list[Text]]:
    differs = len(set(cells)) > 1
    style = "bold yellow" if differs else ""
    key = Text(f"{DIFFERS if differs else ' '} {label}", style=style)
    return key, [Text(c, style=style) for c in cells]


def comparison(runs: Sequence[RunRecord], only_differences: bool) -> Table:
    """One column per run, one row per attribute, param and metric; differences starred."""
    table = Table(
        "",
        *(run.id for run in runs),
        caption=f"{DIFFERS} = values differ between runs",
        caption_justify="left",
    )
    rows: list[tuple[str, list[str]]] = [
        ("experiment", [r.experiment for r in runs]),
        ("name", [r.name for r in runs]),
        ("status", [r.status for r in runs]),
        ("duration", [duration(r.duration_s) for r in runs]),
    ]
    for kind in ("params", "metrics"):
        keys = sorted({k for r in runs for k in getattr(r, kind)})
        rows += [(f"{kind}.{k}", [value(getattr(r, kind).get(k)) for r in runs]) for k in keys]
    for label, cells in rows:
        key, texts = _row(label, cells)
        if only_differences and not key.plain.startswith(DIFFERS):
            continue
        table.add_row(key, *texts)
    return table


def experiment_table(experiments: list[dict[str, Any]]) -> Table:
    table = Table("experiment", "id")
    table.add_column("runs", justify="right")
    table.add_column("created")
    for exp in experiments:
        table.add_row(exp["name"], exp["id"], f"{exp['runs']:,}", when(exp["created_at"]))
    return table
