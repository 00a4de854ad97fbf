"""Reading pipeline runs back: parent runs tagged `loopml.pipeline`, with step counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from loopml.errors import ValidationError
from loopml.store import Stores
from loopml.store.schema import runs, tags

PIPELINE_TAG = "loopml.pipeline"


@dataclass(frozen=True)
class PipelineRunSummary:
    """A pipeline run: its status, and how many steps ran or came from the cache."""

    run_id: str
    pipeline: str
    status: str
    start_time: float
    end_time: float | None
    steps: int
    cached: int
    failed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_pipeline_runs(
    stores: Stores, name: str | None = None, *, limit: int = 50
) -> list[PipelineRunSummary]:
    """The newest pipeline runs first (of pipeline `name` only, when given)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive integer, got {limit!r}")
    pipeline_tag = aliased(tags)
    query = (
        select(runs.c.id, pipeline_tag.c.value, runs.c.status, runs.c.start_time, runs.c.end_time)
        .join(
            pipeline_tag,
            and_(pipeline_tag.c.run_id == runs.c.id, pipeline_tag.c.key == PIPELINE_TAG),
        )
        .order_by(runs.c.start_time.desc(), runs.c.id)
        .limit(limit)
    )
    if name is not None:
        query = query.where(pipeline_tag.c.value == name)
    with stores.engine.connect() as conn:
        parents = conn.execute(query).all()
        ids = [p.id for p in parents]
        counts: dict[str, tuple[int, int, int]] = {}
        if ids:
            cached_tag = aliased(tags)
            rows = conn.execute(
                select(
                    runs.c.parent_id,
                    func.count(),
                    func.count(cached_tag.c.run_id),
                    func.sum(func.cast(runs.c.status == "FAILED", runs.c.pid.type)),
                )
                .select_from(runs)
                .outerjoin(
                    cached_tag,
                    and_(
                        cached_tag.c.run_id == runs.c.id,
                        cached_tag.c.key == "loopml.cached",
                        cached_tag.c.value == "true",
                    ),
                )
                .where(runs.c.parent_id.in_(ids))
                .group_by(runs.c.parent_id)
            ).all()
            counts = {r[0]: (int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows}
    return [
        PipelineRunSummary(
            p.id, p.value, p.status, p.start_time, p.end_time, *counts.get(p.id, (0, 0, 0))
        )
        for p in parents
    ]
