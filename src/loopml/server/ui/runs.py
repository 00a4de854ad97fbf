"""Runs: the runs table (filter language, sort, chosen columns, keyset pages), one run
(params, metric charts, tags, artifacts) and a comparison of 2 to 10 runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import ValidationError
from loopml.server.ui.charts import MAX_POINTS, Series, aligned
from loopml.server.ui.context import PageContext, serve
from loopml.tracking.records import RunRecord
from loopml.validation import check_key

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_METRIC_COLUMNS = 5
DEFAULT_PARAM_COLUMNS = 3
MAX_COLUMNS = 20
MAX_CHARTS = 50
MIN_COMPARE, MAX_COMPARE = 2, 10


def _columns(raw: str | None, kind: str) -> list[str] | None:
    """Comma-separated column keys, each checked like a logged key; None when not given."""
    if raw is None:
        return None
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if len(keys) > MAX_COLUMNS:
        raise ValidationError(f"choose at most {MAX_COLUMNS} {kind} columns, got {len(keys)}")
    return [check_key(kind, k) for k in keys]


def _first_keys(runs: list[RunRecord], attribute: str, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        for key in getattr(run, attribute):
            seen.setdefault(key, None)
    return sorted(seen)[:limit]


def metric_cell(value: float | None) -> Markup:
    """A metric for a table cell: a formatted float holds no HTML, so it skips escaping
    (hundreds of cells a page)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Markup(f"{float(value):.4g}")
    return Markup("")


def table_rows(
    runs: list[RunRecord], metric_cols: list[str], param_cols: list[str]
) -> list[tuple[RunRecord, list[Markup], list[str]]]:
    """Each run with its chosen cells, formatted once here rather than by a template call
    per cell."""
    return [
        (
            run,
            [metric_cell(run.metrics.get(m)) for m in metric_cols],
            [run.params.get(p, "") for p in param_cols],
        )
        for run in runs
    ]


def runs_view(ctx: PageContext) -> Response:
    query = ctx.request.query_params
    experiments = [e for e in query.getlist("experiment") if e]
    text = (query.get("filter") or "").strip()
    order = (query.get("order") or "").strip()
    size_raw = query.get("size") or "100"
    token = query.get("page") or None
    error = None
    runs: list[RunRecord] = []
    next_token = None
    try:
        size = int(size_raw) if size_raw.isdigit() else -1
        if size not in PAGE_SIZES:
            raise ValidationError(
                f"page size must be one of {', '.join(map(str, PAGE_SIZES))}, got {size_raw!r}"
            )
        metric_cols = _columns(query.get("metrics"), "metric")
        param_cols = _columns(query.get("params"), "param")
        found = ctx.client.tracking.search_runs(
            experiments or None, text or None, [order] if order else None, size, token
        )
        runs = list(found)
        next_token = found.next_page_token
    except ValidationError as exc:
        error = str(exc)
        metric_cols = param_cols = []
    if metric_cols is None:
        metric_cols = _first_keys(runs, "metrics", DEFAULT_METRIC_COLUMNS)
    if param_cols is None:
        param_cols = _first_keys(runs, "params", DEFAULT_PARAM_COLUMNS)
    current = {
        "experiment": experiments,
        "filter": text,
        "order": order,
        "size": size_raw,
        "metrics": ",".join(metric_cols),
        "params": ",".join(param_cols),
    }

    def link(**changes: Any) -> str:
        merged = {**current, **changes}
        pairs = [(k, v) for k, v in merged.items() if v not in (None, "", [])]
        return "?" + urlencode(pairs, doseq=True)

    def sort_link(column: str) -> str:
        descending = order == f"{column} DESC"
        return link(order=f"{column} {'ASC' if descending else 'DESC'}", page=None)

    return ctx.render(
        "runs.html",
        400 if error else 200,
        rows=table_rows(runs, metric_cols, param_cols),
        error=error,
        experiments=ctx.ui.experiments.get(ctx.client.tracking.list_experiments, experiments),
        chosen=experiments,
        filter=text,
        order=order,
        size=size_raw,
        sizes=PAGE_SIZES,
        metric_cols=metric_cols,
        param_cols=param_cols,
        next_link=link(page=next_token) if next_token else None,
        first_link=link(page=None) if token else None,
        sort_link=sort_link,
    )


def run_view(ctx: PageContext, run_id: str) -> Response:
    tracking = ctx.client.tracking
    run = tracking.get_run(run_id)
    keys = sorted(run.metrics)[:MAX_CHARTS]
    charts = [
        aligned(key, [Series(run.name or run.id, tracking.metric_history(run.id, key, MAX_POINTS))])
        for key in keys
    ]
    return ctx.render(
        "run.html",
        run=run,
        charts=charts,
        more_metrics=len(run.metrics) - len(keys),
        artifacts=tracking.list_artifacts(run.id),
    )


def _label(run: RunRecord) -> str:
    return f"{run.name or run.id} ({run.id[4:12]})"


def compare_view(ctx: PageContext) -> Response:
    wanted = list(dict.fromkeys(r for r in ctx.request.query_params.getlist("run") if r))
    if not MIN_COMPARE <= len(wanted) <= MAX_COMPARE:
        raise ValidationError(
            f"choose {MIN_COMPARE} to {MAX_COMPARE} runs to compare, got {len(wanted)}; "
            "tick them in the runs table"
        )
    tracking = ctx.client.tracking
    runs = [tracking.get_run(r) for r in wanted]
    keys = sorted({k for run in runs for k in run.metrics})[:MAX_CHARTS]
    charts = []
    for key in keys:
        series = [
            Series(_label(run), tracking.metric_history(run.id, key, MAX_POINTS))
            for run in runs
            if key in run.metrics
        ]
        charts.append(aligned(key, series))
    param_keys = sorted({k for run in runs for k in run.params})
    params = [(key, [run.params.get(key) for run in runs]) for key in param_keys]
    return ctx.render(
        "compare.html",
        runs=runs,
        charts=charts,
        params=[(key, values, len(set(values)) > 1) for key, values in params],
    )


def artifact_download(ctx: PageContext, run_id: str, path: str) -> Response:
    tracking = ctx.client.tracking
    listed = {a["path"]: a for a in tracking.list_artifacts(run_id)}
    if path not in listed:
        return ctx.render(
            "error.html",
            404,
            code="not_found",
            detail=f"run {run_id} has no artifact {path!r}",
            hint="the run page lists its artifacts",
        )
    data = tracking.read_artifact(run_id, path)
    name = path.rsplit("/", 1)[-1].replace('"', "")
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
        },
    )


async def runs_page(request: Request) -> Response:
    return await serve(request, runs_view)


async def run_page(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    return await serve(request, lambda ctx: run_view(ctx, run_id))


async def compare_page(request: Request) -> Response:
    return await serve(request, compare_view)


async def artifact(request: Request) -> Response:
    run_id, path = request.path_params["run_id"], request.path_params["path"]
    return await serve(request, lambda ctx: artifact_download(ctx, run_id, path))
