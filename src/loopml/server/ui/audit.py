"""Audit: the tamper-evident log, newest first, filterable by object (in the store) and by
actor and action (on the page read), and the chain's verification on request."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from loopml.governance import verify_chain
from loopml.server.ui.context import PageContext, serve

PAGE_SIZE = 100


def audit_view(ctx: PageContext) -> Response:
    query = ctx.request.query_params
    obj = (query.get("object") or "").strip()
    actor = (query.get("actor") or "").strip()
    action = (query.get("action") or "").strip()
    token = query.get("page") or None
    page = ctx.client.audit_events(obj or None, max_results=PAGE_SIZE, page_token=token)
    events = [
        e
        for e in page
        if (not actor or e.actor == actor) and (not action or e.action.startswith(action))
    ]
    verified = verify_chain(ctx.client.stores.engine) if query.get("verify") else None
    kept = {"object": obj, "actor": actor, "action": action}
    base = {k: v for k, v in kept.items() if v}
    next_token = page.next_page_token
    next_link = "?" + urlencode({**base, "page": next_token}) if next_token else None
    return ctx.render(
        "audit.html",
        events=events,
        read=len(page),
        filters=kept,
        verified=verified,
        verify_link="?" + urlencode({**base, "verify": "1"}),
        next_link=next_link,
    )


async def audit_page(request: Request) -> Response:
    return await serve(request, audit_view)
