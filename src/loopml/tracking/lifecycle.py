"""Deleting and restoring runs, and experiment tags.

A delete is soft: the run keeps every param, metric, tag and artifact and only leaves the
default searches (run_query.py), so a restore brings it back whole and lineage that names
it (a model version, an audit event) never points at nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from sqlalchemy import Connection, select, update

from loopml.errors import NotFoundError
from loopml.governance import append_event, require
from loopml.store import Stores
from loopml.store.schema import experiment_tags, runs
from loopml.tracking.runs import run_uri
from loopml.validation import check_key, check_text_value


class RunLifecycle:
    """Soft-delete and restore runs; set and read experiment tags."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    def delete_run(self, run_id: str) -> bool:
        """Hide the run from searches; False when it was deleted already (no change)."""
        return self._set_deleted(run_id, time.time(), "delete runs", "run.delete")

    def restore_run(self, run_id: str) -> bool:
        """Bring a deleted run back; False when it was not deleted (no change)."""
        return self._set_deleted(run_id, None, "restore runs", "run.restore")

    def is_deleted(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return _deleted_at(conn, run_id) is not None

    def set_run_times(self, run_id: str, start_time: float, end_time: float | None) -> None:
        """Give a run the start and end times it had elsewhere (a run copied from another
        store keeps its own history, not the time of the copy)."""
        require(self.stores.actor, "write", "set run times")
        values: dict[str, float] = {"start_time": start_time}
        if end_time is not None:
            values["end_time"] = end_time
        with self.engine.begin() as conn:
            _deleted_at(conn, run_id)  # an unknown run says so
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def _set_deleted(self, run_id: str, stamp: float | None, what: str, event: str) -> bool:
        require(self.stores.actor, "write", what)
        with self.engine.begin() as conn:
            current = _deleted_at(conn, run_id)
            if (current is None) == (stamp is None):
                return False
            conn.execute(update(runs).where(runs.c.id == run_id).values(deleted_at=stamp))
            append_event(conn, self.stores.actor, event, run_uri(run_id))
        return True

    def set_experiment_tags(self, experiment_id: str, values: Mapping[str, object]) -> None:
        """Set (or overwrite) tags of an experiment."""
        require(self.stores.actor, "write", "set experiment tags")
        rows = [
            {
                "experiment_id": experiment_id,
                "key": check_key("experiment tag", k),
                "value": check_text_value("experiment tag", k, v),
            }
            for k, v in values.items()
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(
                experiment_tags.delete().where(
                    experiment_tags.c.experiment_id == experiment_id,
                    experiment_tags.c.key.in_([r["key"] for r in rows]),
                )
            )
            conn.execute(experiment_tags.insert(), rows)
            append_event(
                conn,
                self.stores.actor,
                "experiment.tags.set",
                f"experiment-id:{experiment_id}",
                {"keys": [r["key"] for r in rows]},
            )

    def experiment_tags(self, experiment_id: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(experiment_tags.c.key, experiment_tags.c.value)
                .where(experiment_tags.c.experiment_id == experiment_id)
                .order_by(experiment_tags.c.key)
            ).all()
        return {key: value for key, value in found}


def _deleted_at(conn: Connection, run_id: str) -> float | None:
    row = conn.execute(select(runs.c.deleted_at).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
    return None if row[0] is None else float(row[0])
