"""Deployments: each endpoint's routes and weights, shadows, its rollout's progress and
the history of its revisions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from loopml.server.ui.context import PageContext, serve

HISTORY_SHOWN = 50


def deployments_view(ctx: PageContext) -> Response:
    client = ctx.client
    active = {r.deployment: r for r in client.rollouts.list("active")}
    return ctx.render(
        "deployments.html",
        deployments=[(d, active.get(d.name)) for d in client.deployments.list()],
    )


def deployment_view(ctx: PageContext, name: str) -> Response:
    client = ctx.client
    deployment = client.deployments.get(name)
    rollouts = client.rollouts.list(deployment=name)
    history = client.deployments.history(name)
    return ctx.render(
        "deployment.html",
        deployment=deployment,
        rollout=rollouts[-1] if rollouts else None,
        history=list(reversed(history))[:HISTORY_SHOWN],
    )


async def deployments_page(request: Request) -> Response:
    return await serve(request, deployments_view)


async def deployment_page(request: Request) -> Response:
    name = request.path_params["name"]
    return await serve(request, lambda ctx: deployment_view(ctx, name))
