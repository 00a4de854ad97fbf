"""Data: the datasets, one dataset's versions, one version's schema and profile (a chart
per column), and what changed between two versions — all from the stored profiles, so
no page reads the data itself."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from loopml.data import DatasetVersion, diff_versions
from loopml.data.profile import QUANTILES
from loopml.errors import ValidationError
from loopml.server.ui.charts import over
from loopml.server.ui.context import PageContext, serve

NAMES_PAGE = 100
NEWEST = 20
VERSIONS_PAGE = 100
MAX_PROFILE_CHARTS = 60  # columns charted on a page; the table lists every column

#: The x of a quantile chart: the minimum, the profile's quantiles, the maximum.
LEVELS = [0.0, *QUANTILES, 1.0]


def _quantile_line(stats: dict[str, Any]) -> list[float | None] | None:
    """A numeric column's distribution as values at LEVELS (None for other kinds)."""
    if stats.get("kind") != "numeric" or "quantiles" not in stats:
        return None
    quantiles = stats["quantiles"] or {}
    middle = [quantiles.get(str(p)) for p in QUANTILES]
    line = [stats.get("min"), *middle, stats.get("max")]
    return [float(v) if isinstance(v, int | float) else None for v in line]


def profile_charts(versions: list[DatasetVersion]) -> list[dict[str, Any]]:
    """One chart per numeric column of the last version, a line per version."""
    charts = []
    for column in versions[-1].columns:
        lines = {}
        for version in versions:
            line = _quantile_line(version.profile.get(column, {}))
            if line is not None:
                lines[f"v{version.version}"] = line
        if lines:
            charts.append(over(column, LEVELS, lines, "quantile"))
    return charts[:MAX_PROFILE_CHARTS]


def top_bars(stats: dict[str, Any]) -> list[tuple[str, int, int]]:
    """A categorical column's top values as (value, count, percent of rows)."""
    total = sum(int(t["count"]) for t in stats.get("top", [])) + int(stats.get("nulls", 0))
    rows = max(total, 1)
    return [
        (str(t["value"]), int(t["count"]), round(100 * int(t["count"]) / rows))
        for t in stats.get("top", [])
    ]


def datasets_view(ctx: PageContext) -> Response:
    service = ctx.client.dataset_service
    token = ctx.request.query_params.get("page") or None
    names = service.names(max_results=NAMES_PAGE, page_token=token)
    nxt = names.next_page_token
    return ctx.render(
        "datasets.html",
        names=names,
        newest=service.newest(max_results=NEWEST),
        next_link=f"?page={quote(nxt)}" if nxt else None,
    )


def dataset_view(ctx: PageContext, name: str) -> Response:
    datasets = ctx.client.datasets
    latest = datasets.get(f"{name}@latest")
    token = ctx.request.query_params.get("page") or None
    versions = datasets.list(name, max_results=VERSIONS_PAGE, page_token=token)
    nxt = versions.next_page_token
    return ctx.render(
        "dataset.html",
        name=name,
        latest=latest,
        versions=versions,
        next_link=f"?page={quote(nxt)}" if nxt else None,
    )


def version_view(ctx: PageContext, name: str, number: int) -> Response:
    datasets = ctx.client.datasets
    version = datasets.get(f"{name}@{number}")
    parent = datasets.get(version.parent_id) if version.parent_id else None
    return ctx.render(
        "dataset_version.html",
        version=version,
        parent=parent,
        charts=profile_charts([version]),
        top_bars=top_bars,
    )


def _number(raw: str | None, what: str) -> int:
    text = (raw or "").strip()
    if not text.isdigit() or int(text) < 1:
        raise ValidationError(f"choose the {what} version by its number (1, 2, …), got {text!r}")
    return int(text)


def diff_view(ctx: PageContext, name: str) -> Response:
    query = ctx.request.query_params
    datasets = ctx.client.datasets
    latest = datasets.get(f"{name}@latest")
    old_n = _number(query.get("old") or str(max(1, latest.version - 1)), "old")
    new_n = _number(query.get("new") or str(latest.version), "new")
    if old_n == new_n:
        raise ValidationError(f"choose two different versions to compare, got {old_n} twice")
    old, new = datasets.get(f"{name}@{old_n}"), datasets.get(f"{name}@{new_n}")
    diff = diff_versions(old, new)
    return ctx.render(
        "dataset_diff.html",
        name=name,
        old=old,
        new=new,
        latest=latest,
        diff=diff,
        charts=profile_charts([old, new]),
        swap_link="?" + urlencode({"old": new_n, "new": old_n}),
    )


async def datasets_page(request: Request) -> Response:
    return await serve(request, datasets_view)


async def dataset_page(request: Request) -> Response:
    name = request.path_params["name"]
    return await serve(request, lambda ctx: dataset_view(ctx, name))


async def version_page(request: Request) -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    return await serve(request, lambda ctx: version_view(ctx, name, number))


async def diff_page(request: Request) -> Response:
    name = request.path_params["name"]
    return await serve(request, lambda ctx: diff_view(ctx, name))
