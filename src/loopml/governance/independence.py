"""Four eyes means two people: is an approver independent of the requester?

Names alone prove little: an admin who opens a request can create a second identity and
approve through it. An approval therefore does not count when the approving principal was
created by the requester (directly, or through principals the requester created), or was
created after the request was opened.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from loopml.store.schema import principals


def independence_problem(
    engine: Engine, approver: str, requester: str, opened_at: float
) -> str | None:
    """Why `approver` is not a second person for `requester`'s request, or None.

    Identities that are not principals (the unauthenticated local user, services) have no
    record to judge; for them the four-eyes rule compares names only.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            select(principals.c.name, principals.c.created_by, principals.c.created_at)
        ).all()
    created = {name: (by, at) for name, by, at in rows}
    if approver not in created:
        return None
    by, at = created[approver]
    chain = [approver]
    seen = {approver}
    while by is not None and by not in seen:
        chain.append(by)
        if by == requester:
            return f"{approver} was created by the requester ({' ← '.join(reversed(chain))})"
        seen.add(by)
        by = created[by][0] if by in created else None
    if at > opened_at:
        return f"{approver} was created after the request was opened"
    return None
