"""Models: the registry's models, one model's versions, aliases and approval requests,
and the approve / reject forms (the approval service decides who may; the page only
hides the buttons from those it would refuse)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import ValidationError
from loopml.registry.records import ApprovalRequest
from loopml.server.ui.context import PageContext, serve, serve_form
from loopml.store.principal import Principal

MAX_COMMENT = 2000
MAX_REQUESTS = 200


def may_decide(me: Principal, request: ApprovalRequest) -> str | None:
    """Why `me` may not decide `request` (None when the buttons are shown)."""
    if request.status != "PENDING":
        return f"decided: {request.status.lower()}"
    role = str(request.policy.get("approver_role", "approver"))
    if not me.at_least(role):
        return f"deciding needs the {role} role; you are {me.role}"
    if request.policy.get("four_eyes", True) and me.name == request.requester:
        return "you opened this request; another approver decides it (four eyes)"
    if any(d.principal == me.name for d in request.decisions):
        return "you have decided this request already"
    return None


def models_view(ctx: PageContext) -> Response:
    return ctx.render("models.html", models=ctx.client.models.registry.list_models())


def model_view(ctx: PageContext, name: str) -> Response:
    models = ctx.client.models
    model = models.registry.get_model(name)
    versions = list(models.registry.list_versions(name))
    requests = list(models.approvals.list(name, newest_first=True, max_results=MAX_REQUESTS))
    return ctx.render(
        "model.html",
        model=model,
        versions=list(reversed(versions)),
        requests=[(r, may_decide(ctx.principal, r)) for r in requests],
        done=ctx.request.query_params.get("done"),
    )


def decide(ctx: PageContext, form: dict[str, str], request_id: str, verdict: str) -> Response:
    comment = (form.get("comment") or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValidationError(f"a comment holds at most {MAX_COMMENT} characters")
    approvals = ctx.client.models.approvals
    decided = (
        approvals.approve(request_id, comment)
        if verdict == "approve"
        else approvals.reject(request_id, comment)
    )
    return ctx.redirect(f"/models/{decided.model}?done={verdict}d+{decided.id}")


async def models_page(request: Request) -> Response:
    return await serve(request, models_view)


async def model_page(request: Request) -> Response:
    name = request.path_params["name"]
    return await serve(request, lambda ctx: model_view(ctx, name))


async def approve(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    return await serve_form(request, lambda ctx, form: decide(ctx, form, request_id, "approve"))


async def reject(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    return await serve_form(request, lambda ctx, form: decide(ctx, form, request_id, "reject"))
