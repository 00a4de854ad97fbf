"""Experiments: named groups of runs, created on first use."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from loopml.errors import NotFoundError
from loopml.governance import append_event, require
from loopml.store import Stores, new_id
from loopml.store.schema import experiments, runs
from loopml.validation import check_name


class Experiments:
    """Find or create experiments by name (ids cached for the life of the process)."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine
        self._experiment_ids: dict[str, str] = {}
        self._experiments_by_id: dict[str, dict[str, Any]] = {}  # never renamed or removed

    def experiment_id(self, name: str, *, create: bool = True) -> str:
        check_name("experiment", name)
        if name in self._experiment_ids:
            return self._experiment_ids[name]
        with self.engine.connect() as conn:
            found = conn.execute(
                select(experiments.c.id).where(experiments.c.name == name)
            ).scalar()
        if found is None:
            if not create:
                raise NotFoundError(
                    f"no experiment named {name!r}; `loopml experiments list` shows them"
                )
            try:
                with self.engine.begin() as conn:
                    require(self.stores.actor, "write", "create experiments")
                    found = new_id("exp")
                    conn.execute(
                        experiments.insert().values(
                            id=found,
                            name=name,
                            created_by=self.stores.actor.name,
                            created_at=time.time(),
                        )
                    )
                    append_event(conn, self.stores.actor, "experiment.create", f"experiment:{name}")
            except IntegrityError:  # created by another process meanwhile
                return self.experiment_id(name, create=False)
        self._experiment_ids[name] = found
        return found

    def get_experiment(self, experiment_id: str) -> dict[str, Any]:
        """One experiment by id (id, name, created_at): clients that hold ids, not names
        (the MLflow API), look experiments up this way."""
        cached = self._experiments_by_id.get(experiment_id)
        if cached is not None:
            return dict(cached)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(experiments.c.id, experiments.c.name, experiments.c.created_at).where(
                    experiments.c.id == experiment_id
                )
            ).first()
        if row is None:
            raise NotFoundError(
                f"no experiment with id {experiment_id!r}; `loopml experiments list` shows them"
            )
        found = self._experiments_by_id[experiment_id] = dict(row._mapping)
        return dict(found)

    def list_experiments(self) -> list[dict[str, Any]]:
        query = (
            select(
                experiments.c.name,
                experiments.c.id,
                experiments.c.created_at,
                func.count(runs.c.id).label("runs"),
            )
            .select_from(experiments.outerjoin(runs, runs.c.experiment_id == experiments.c.id))
            .group_by(experiments.c.id)
            .order_by(experiments.c.name)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
