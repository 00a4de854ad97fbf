"""Which MLflow object became which loopml object, per source store: a second import of the
same store skips what the first one copied (and finds the loopml ids it made)."""

from __future__ import annotations

import time

from sqlalchemy import Engine, and_, select
from sqlalchemy.exc import IntegrityError

from loopml.store.schema import import_mappings


class IdMapping:
    """The mapping rows of one source store and one kind of object, read once."""

    def __init__(self, engine: Engine, source: str, kind: str) -> None:
        self.engine = engine
        self.source = source
        self.kind = kind
        with engine.connect() as conn:
            rows = conn.execute(
                select(import_mappings.c.source_id, import_mappings.c.target_id).where(
                    and_(import_mappings.c.source == source, import_mappings.c.kind == kind)
                )
            ).all()
        self._known: dict[str, str] = {a: b for a, b in rows}

    def get(self, source_id: str) -> str | None:
        return self._known.get(source_id)

    def __contains__(self, source_id: str) -> bool:
        return source_id in self._known

    def remember(self, source_id: str, target_id: str) -> None:
        """Record the pair (once: a concurrent import that recorded it first wins)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    import_mappings.insert().values(
                        source=self.source,
                        kind=self.kind,
                        source_id=source_id,
                        target_id=target_id,
                        imported_at=time.time(),
                    )
                )
        except IntegrityError:
            pass
        self._known[source_id] = target_id
