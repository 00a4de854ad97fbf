"""Home: the loop at a glance — newest data, champions, pending approvals, deployments
with their traffic split and rollout step, open alerts and triggers — each stage a box
that links to its page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from loopml.server.ui.context import PageContext, serve

NEWEST = 8
SCAN = 1000


def home_view(ctx: PageContext) -> Response:
    client = ctx.client
    datasets = sorted(client.datasets.list(max_results=SCAN), key=lambda d: -d.created_at)
    models = client.models.registry.list_models()
    pending = list(client.models.approvals.list(status="PENDING", max_results=SCAN))
    deployments = client.deployments.list()
    rollouts = {r.deployment: r for r in client.rollouts.list("active")}
    alerts = list(client.monitors.alerts.list(state="open", max_results=SCAN))
    triggers = client.triggers.list()
    return ctx.render(
        "home.html",
        datasets=datasets[:NEWEST],
        models=models,
        pending=pending,
        deployments=[(d, rollouts.get(d.name)) for d in deployments],
        alerts=alerts,
        triggers=triggers,
    )


async def home_page(request: Request) -> Response:
    return await serve(request, home_view)
