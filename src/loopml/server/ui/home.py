"""Home: the loop at a glance — newest data, running and recent pipelines, champions,
pending approvals, deployments with their traffic split and rollout step, open alerts
and triggers — each stage a box that links to its page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from loopml.server.ui.context import PageContext, serve

NEWEST = 8
SHOWN = 20  # approvals and alerts listed in a box; the box says when there are more


def home_view(ctx: PageContext) -> Response:
    client = ctx.client
    datasets = client.dataset_service.newest(max_results=NEWEST)
    models = client.models.registry.list_models()
    pending = client.models.approvals.list(status="PENDING", max_results=SHOWN)
    deployments = client.deployments.list()
    rollouts = {r.deployment: r for r in client.rollouts.list("active")}
    alerts = client.monitors.alerts.list(state="open", max_results=SHOWN)
    return ctx.render(
        "home.html",
        datasets=datasets,
        pipeline_runs=client.pipelines.runs(limit=NEWEST),
        models=models,
        pending=list(pending),
        more_pending=pending.next_page_token is not None,
        deployments=[(d, rollouts.get(d.name)) for d in deployments],
        alerts=list(alerts),
        more_alerts=alerts.next_page_token is not None,
        triggers=client.triggers.list(),
    )


async def home_page(request: Request) -> Response:
    return await serve(request, home_view)
