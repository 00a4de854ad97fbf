"""Pipelines and triggers: the newest pipeline runs with their steps (ran or came from
the cache, how long, how they ended), the registered pipelines, the triggers and what
each of their events launched."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from loopml.server.ui.context import PageContext, serve
from loopml.tracking.records import RunRecord
from loopml.validation import check_name

PIPELINE_RUNS = 25
EVENTS = 50
MAX_STEPS = 2000  # the steps of the runs shown, read in one query


@dataclass(frozen=True)
class StepRow:
    name: str
    run: RunRecord
    cached: bool
    cached_from: str | None


def _steps(ctx: PageContext, parents: list[str]) -> dict[str, list[StepRow]]:
    """The steps of these pipeline runs (child runs), in the order they started."""
    if not parents:
        return {}
    quoted = ", ".join(f"'{p}'" for p in parents)  # run ids: letters, digits, '-'
    children = ctx.client.tracking.search_runs(
        None, f"parent_id IN ({quoted})", ["start_time ASC"], MAX_STEPS
    )
    steps: dict[str, list[StepRow]] = defaultdict(list)
    for run in children:
        steps[run.parent_id or ""].append(
            StepRow(
                run.tags.get("loopml.step", run.name),
                run,
                run.tags.get("loopml.cached") == "true",
                run.tags.get("loopml.cached_from"),
            )
        )
    return steps


def pipelines_view(ctx: PageContext) -> Response:
    client = ctx.client
    chosen = (ctx.request.query_params.get("pipeline") or "").strip() or None
    if chosen is not None:
        check_name("pipeline", chosen)
    runs = client.pipelines.runs(chosen, limit=PIPELINE_RUNS)
    return ctx.render(
        "pipelines.html",
        chosen=chosen,
        runs=runs,
        steps=_steps(ctx, [r.run_id for r in runs]),
        registered=client.pipelines.list(),
        triggers=client.triggers.list(),
        events=client.triggers.events(limit=EVENTS),
    )


async def pipelines_page(request: Request) -> Response:
    return await serve(request, pipelines_view)
