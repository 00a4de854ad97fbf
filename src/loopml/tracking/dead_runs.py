"""Runs whose process died without ending them (kill -9, a crash, a lost machine's
controller) end as KILLED the next time this host opens the workspace.

Runs with buffered metric points are first recovered from their journals
(`TrackingService.recover_journals`); this catches the others, with or without metrics,
including the step runs of a pipeline whose process was killed.
"""

from __future__ import annotations

import os
import time

from sqlalchemy import Engine, select, update

from loopml.governance import append_event
from loopml.store.schema import runs
from loopml.tracking.liveness import process_alive
from loopml.tracking.run_digest import read_contents, summarize

RECOVERY_ACTOR = "loopml-recovery"


def end_dead_runs(engine: Engine, host: str) -> list[str]:
    """Mark KILLED every RUNNING run of `host` whose process is gone; returns their ids."""
    with engine.connect() as conn:
        candidates = conn.execute(
            select(runs.c.id, runs.c.pid, runs.c.start_time).where(
                runs.c.status == "RUNNING", runs.c.host == host
            )
        ).all()
    ended = []
    for run_id, pid, started in candidates:
        if pid is None or pid == os.getpid() or process_alive(int(pid), float(started)):
            continue
        with engine.begin() as conn:
            now = time.time()
            contents = read_contents(conn, run_id)
            done = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status == "RUNNING")
                .values(
                    status="KILLED",
                    end_time=now,
                    error=(
                        f"the process (pid {pid} on {host}) died without ending the run; "
                        "found when the workspace was next opened"
                    ),
                    key_values=contents.key_values,
                )
            )
            if done.rowcount != 1:
                continue  # another process ended it meanwhile
            append_event(
                conn,
                RECOVERY_ACTOR,
                "run.end",
                "run:" + run_id.removeprefix("run-"),
                {"status": "KILLED", "pid": pid, **summarize(contents)},
            )
        ended.append(run_id)
    return ended
