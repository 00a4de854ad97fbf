"""Runs: created with their code version and environment, written to, ended, recovered.

Every write to a run goes through `Runs`; `Run` (run.py) is the handle a training script
holds, and reads live in the service (service.py).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from loopml.artifacts import ArtifactRef
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.governance import append_event, require
from loopml.store import Stores, new_id, record_artifact
from loopml.store.fastpath import RawStatement
from loopml.store.schema import params, run_artifacts, run_inputs, runs, tags
from loopml.tracking.captures import RemoteCapture, remote_capture_artifacts
from loopml.tracking.dead_runs import RECOVERY_ACTOR, end_dead_runs
from loopml.tracking.environment import (
    CodeVersion,
    capture_code,
    capture_packages,
    environment_record,
)
from loopml.tracking.experiments import Experiments
from loopml.tracking.journal import (
    MetricJournal,
    Point,
    orphaned_journals,
    read_header,
    read_points,
)
from loopml.tracking.key_values import keep_current as keep_key_values_current
from loopml.tracking.metric_writer import MetricWriter, write_points
from loopml.tracking.records import STATUSES
from loopml.tracking.run_digest import (
    RunContents,
    audit_late_write,
    read_contents,
    summarize,
)
from loopml.tracking.snapshots import write_snapshots
from loopml.validation import check_key, check_name, check_text_value

_HOST = socket.gethostname()

# Prebuilt statements for the paths every run takes (building them costs more than running).
_INSERT_RUN = RawStatement(runs.insert())
_INSERT_TAGS = RawStatement(tags.insert())
_INSERT_PARAMS = RawStatement(params.insert())
_INSERT_RUN_ARTIFACTS = RawStatement(run_artifacts.insert())
_END_RUN_STATEMENT = (
    update(runs)
    .where(runs.c.id == bindparam("rid"))
    .values(
        status=bindparam("new_status"),
        end_time=bindparam("ended"),
        error=bindparam("err"),
        key_values=bindparam("kv"),
    )
)
_END_RUN_NO_JOURNAL = RawStatement(_END_RUN_STATEMENT)
_END_RUN = RawStatement(_END_RUN_STATEMENT.values(journal_offset=bindparam("offset")))


@dataclass(frozen=True)
class NewRun:
    """A run checked and captured, ready for `Runs.insert_run`."""

    run_id: str
    experiment: str
    experiment_id: str
    name: str | None
    parent_id: str | None
    tag_rows: list[dict[str, str]]
    code: CodeVersion | None
    diff_digest: str | None
    environment: dict[str, Any] | None
    artifacts: list[tuple[str, ArtifactRef, str]]
    local_process: bool


class Runs:
    """Create, write to and end runs; replay the journals of killed processes."""

    def __init__(self, stores: Stores, experiments: Experiments) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.experiments = experiments
        self._recorded: set[str] = set()
        self._captured: dict[bytes, ArtifactRef] = {}

    def create_run(
        self,
        experiment: str,
        name: str | None = None,
        *,
        parent_id: str | None = None,
        tags_: Mapping[str, Any] | None = None,
        capture: bool = True,
        local_process: bool = True,
        captured: RemoteCapture | None = None,
        run_id: str | None = None,
    ) -> str:
        """Insert a RUNNING run with its code version and environment; returns its id.

        `local_process` False: the run is logged by a process elsewhere (a remote client),
        so its host and pid are not recorded and a restart here never ends it as dead;
        `captured` is then that process's code version and environment (else, with
        `capture`, this process's own are recorded). `run_id`: an id the caller chose
        (checked by the caller; a taken one fails the insert)."""
        require(self.stores.actor, "write", "create runs")
        new = self.prepare_run(
            experiment,
            name,
            parent_id=parent_id,
            tags_=tags_,
            capture=capture,
            local_process=local_process,
            captured=captured,
            run_id=run_id,
        )
        with self.stores.writes.begin() as conn:
            recorded = self.insert_run(conn, new)
        self.committed(recorded)
        return new.run_id

    def prepare_run(
        self,
        experiment: str,
        name: str | None = None,
        *,
        parent_id: str | None = None,
        tags_: Mapping[str, Any] | None = None,
        capture: bool = True,
        local_process: bool = True,
        captured: RemoteCapture | None = None,
        run_id: str | None = None,
        create_experiment: bool = True,
    ) -> NewRun:
        """What `create_run` inserts, checked and captured before its transaction
        (`create_experiment` False: an experiment that does not exist is a NotFoundError)."""
        exp_id = self.experiments.experiment_id(experiment, create=create_experiment)
        run_id = run_id or new_id("run")
        if name is not None:
            check_name("run", name)
        tag_rows = self._tag_rows(run_id, tags_ or {})
        code = capture_code(Path.cwd()) if capture and captured is None else None
        artifacts: list[tuple[str, ArtifactRef, str]] = []
        environment: dict[str, Any] | None = None
        diff_digest = None
        if captured is not None:
            code = CodeVersion(captured.commit, captured.dirty, None)
            artifacts, environment = remote_capture_artifacts(self.stores.artifacts, captured)
            diff_digest = captured.diff_digest
        elif capture:
            packages = capture_packages()
            pkg_ref = self._put_captured(packages)
            artifacts.append(("environment/requirements.txt", pkg_ref, "text/plain"))
            environment = environment_record(pkg_ref.digest, packages.count(b"\n"))
            if code is not None and code.diff:
                diff_ref = self._put_captured(code.diff)
                artifacts.append(("code/uncommitted.diff", diff_ref, "text/x-diff"))
                diff_digest = diff_ref.digest
        return NewRun(
            run_id,
            experiment,
            exp_id,
            name,
            parent_id,
            tag_rows,
            code,
            diff_digest,
            environment,
            artifacts,
            local_process,
        )

    def insert_run(self, conn: Connection, new: NewRun) -> list[str]:
        """Insert a prepared run, its tags and captures and its `run.create` event in the
        caller's transaction; returns the artifact digests to pass to `committed` once that
        transaction has committed."""
        run_id, code = new.run_id, new.code
        if new.parent_id is not None:
            require_run(conn, new.parent_id)
        _INSERT_RUN.execute(
            conn,
            {
                "id": run_id,
                "experiment_id": new.experiment_id,
                "name": new.name or run_id.removeprefix("run-"),
                "parent_id": new.parent_id,
                "status": "RUNNING",
                "start_time": time.time(),
                "end_time": None,
                "error": None,
                "git_commit": code.commit if code else None,
                "git_dirty": code.dirty if code else None,
                "git_diff_digest": new.diff_digest,
                "environment": json.dumps(new.environment) if new.environment else None,
                "journal_offset": 0,
                "host": _HOST if new.local_process else None,
                "pid": os.getpid() if new.local_process else None,
                "created_by": self.stores.actor.name,
                "key_values": None,  # built when the run ends (key_values.py)
                "deleted_at": None,
            },
        )
        if new.tag_rows:
            _INSERT_TAGS.executemany(conn, new.tag_rows)
        artifacts = new.artifacts
        recorded = [r.digest for _, r, m in artifacts if self._record_once(conn, r, m)]
        if artifacts:
            _INSERT_RUN_ARTIFACTS.executemany(
                conn,
                [
                    {
                        "run_id": run_id,
                        "path": path,
                        "digest": ref.digest,
                        "size": ref.size,
                        "media_type": media,
                    }
                    for path, ref, media in artifacts
                ],
            )
        append_event(
            conn,
            self.stores.actor,
            "run.create",
            _uri(run_id),
            {"experiment": new.experiment, "parent": new.parent_id},
        )
        return recorded

    def committed(self, recorded: Sequence[str]) -> None:
        """After `insert_run`'s transaction committed: its artifact rows exist for good."""
        self._recorded.update(recorded)

    def _put_captured(self, data: bytes) -> ArtifactRef:
        """Store a captured blob: the same one or two for every run of a process (the
        captures are cached), so hash and store each once."""
        ref = self._captured.get(data)
        if ref is None:
            ref = self._captured[data] = self.stores.artifacts.put_bytes(data)
        return ref

    def _record_once(self, conn: Connection, ref: ArtifactRef, media: str) -> bool:
        """Artifact rows are immutable: record each digest once per process."""
        if ref.digest in self._recorded:
            return False
        record_artifact(conn, self.engine, ref, media)
        return True

    def open_metric_writer(self, run_id: str) -> MetricWriter:
        settings = self.stores.settings
        # The run row starts at offset 0; replay skips the journal header by itself.
        journal = MetricJournal(self.stores.journal_dir, run_id, self.store_label())
        return MetricWriter(
            self.engine,
            journal,
            run_id,
            flush_points=settings.metric_flush_points,
            flush_interval_s=settings.metric_flush_interval_s,
        )

    def end_run(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        writer: MetricWriter | None = None,
    ) -> None:
        """Flush what is buffered and set the final status, in one transaction."""
        if status not in STATUSES or status == "RUNNING":
            raise ValidationError(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
        points: list[Point] = []
        offset = 0
        if writer is not None:
            writer.stop()
            points, offset = writer.take_pending()
        with self.stores.writes.begin() as conn:
            contents = self.end_in(
                conn, run_id, status, error, points, None if writer is None else offset
            )
        if writer is not None:
            writer.journal.close(remove=True)
        self.ended(run_id, contents)

    def end_in(
        self,
        conn: Connection,
        run_id: str,
        status: str,
        error: str | None,
        points: Sequence[Point],
        journal_offset: int | None,
    ) -> RunContents:
        """`end_run`'s writes in the caller's transaction: the last points, the final
        status and key-value document, and the `run.end` event (the status is checked by
        the caller). Pass what it returns to `ended` once the transaction has committed."""
        write_points(conn, self.engine, run_id, points)
        contents = read_contents(conn, run_id)
        values = {
            "rid": run_id,
            "new_status": status,
            "ended": time.time(),
            "err": error,
            "kv": contents.key_values,
        }
        if journal_offset is None:
            _END_RUN_NO_JOURNAL.execute(conn, values)
        else:
            _END_RUN.execute(conn, {**values, "offset": journal_offset})
        append_event(
            conn,
            self.stores.actor,
            "run.end",
            _uri(run_id),
            {"status": status, **summarize(contents)},
        )
        return contents

    def ended(self, run_id: str, contents: RunContents) -> None:
        """After `end_in`'s transaction committed: snapshots of the run's long series."""
        write_snapshots(
            self.stores,
            run_id,
            {row[0]: row[1] for row in contents.metrics},
            self.stores.settings.metric_snapshot_points,
        )

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Params are immutable: the same key again must carry the same value."""
        require(self.stores.actor, "write", "log params")
        rows = {check_key("param", k): check_text_value("param", k, v) for k, v in values.items()}
        if not rows:
            return
        new_rows = [{"run_id": run_id, "key": k, "value": v} for k, v in rows.items()]
        try:  # the common case: new keys on a live run, one statement
            with self.engine.begin() as conn:
                _INSERT_PARAMS.executemany(conn, new_rows)
                if keep_key_values_current(conn, run_id):
                    self._audit_late_write(conn, run_id, params=new_rows)
            return
        except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError):
            pass  # an unknown run or a key logged before: find out which, below
        with self.engine.begin() as conn:
            require_run(conn, run_id)
            existing = dict(
                conn.execute(
                    select(params.c.key, params.c.value).where(
                        params.c.run_id == run_id, params.c.key.in_(list(rows))
                    )
                ).all()
            )
            clashes = {
                k: (existing[k], v) for k, v in rows.items() if k in existing and existing[k] != v
            }
            if clashes:
                detail = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in clashes.items())
                raise ConflictError(
                    f"params of {run_id} cannot change ({detail}); start a new run instead"
                )
            missing = [row for row in new_rows if row["key"] not in existing]
            if missing:
                _INSERT_PARAMS.executemany(conn, missing)
                if keep_key_values_current(conn, run_id):
                    self._audit_late_write(conn, run_id, params=missing)

    def log_batch(
        self,
        run_id: str,
        points: list[Point],
        params_: Mapping[str, Any],
        tags_: Mapping[str, Any],
    ) -> None:
        """Params, tags and metric points in one transaction (params stay immutable)."""
        require(self.stores.actor, "write", "log to runs")
        param_rows = [
            {
                "run_id": run_id,
                "key": check_key("param", k),
                "value": check_text_value("param", k, v),
            }
            for k, v in params_.items()
        ]
        tag_rows = self._tag_rows(run_id, tags_)
        try:  # the common case: new param keys on a live run
            with self.stores.writes.begin() as conn:
                self._write_batch(conn, run_id, points, param_rows, tag_rows)
            return
        except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError):
            pass
        self.log_params(run_id, params_)  # raises on a changed param
        with self.engine.begin() as conn:
            require_run(conn, run_id)  # no params to find it out: an unknown run, say so
            self._write_batch(conn, run_id, points, [], tag_rows)

    def _write_batch(
        self,
        conn: Connection,
        run_id: str,
        points: list[Point],
        param_rows: list[dict[str, str]],
        tag_rows: list[dict[str, str]],
    ) -> None:
        if param_rows:
            _INSERT_PARAMS.executemany(conn, param_rows)
        if tag_rows:
            conn.execute(
                tags.delete().where(
                    tags.c.run_id == run_id, tags.c.key.in_([r["key"] for r in tag_rows])
                )
            )
            _INSERT_TAGS.executemany(conn, tag_rows)
        write_points(conn, self.engine, run_id, points)
        if (param_rows or tag_rows or points) and keep_key_values_current(conn, run_id):
            self._audit_late_write(
                conn, run_id, params=param_rows, tags=tag_rows, metric_points=points
            )

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        require(self.stores.actor, "write", "set tags")
        rows = self._tag_rows(run_id, values)
        if not rows:
            return
        with self.engine.begin() as conn:
            require_run(conn, run_id)
            conn.execute(
                tags.delete().where(
                    tags.c.run_id == run_id, tags.c.key.in_([r["key"] for r in rows])
                )
            )
            conn.execute(tags.insert(), rows)
            if keep_key_values_current(conn, run_id):
                self._audit_late_write(conn, run_id, tags=rows)

    def delete_tags(self, run_id: str, keys: Sequence[str]) -> None:
        """Remove tags; a key the run does not have is a NotFoundError (nothing to undo)."""
        require(self.stores.actor, "write", "delete tags")
        wanted = [check_key("tag", k) for k in keys]
        if not wanted:
            return
        with self.engine.begin() as conn:
            require_run(conn, run_id)
            held = set(
                conn.execute(
                    select(tags.c.key).where(tags.c.run_id == run_id, tags.c.key.in_(wanted))
                ).scalars()
            )
            missing = [k for k in wanted if k not in held]
            if missing:
                raise NotFoundError(f"run {run_id} has no tag {missing[0]!r}")
            conn.execute(tags.delete().where(tags.c.run_id == run_id, tags.c.key.in_(wanted)))
            append_event(conn, self.stores.actor, "run.tags.delete", _uri(run_id), {"keys": wanted})
            keep_key_values_current(conn, run_id)

    def _audit_late_write(self, conn: Connection, run_id: str, **written: Sequence[Any]) -> None:
        """A write to a run that has ended: its `run.end` event no longer covers it."""
        audit_late_write(conn, self.stores.actor, _uri(run_id), **written)

    def _tag_rows(self, run_id: str, values: Mapping[str, Any]) -> list[dict[str, str]]:
        return [
            {"run_id": run_id, "key": check_key("tag", k), "value": check_text_value("tag", k, v)}
            for k, v in values.items()
        ]

    def log_input(self, run_id: str, dataset_version_id: str, role: str = "training") -> None:
        require(self.stores.actor, "write", "link run inputs")
        check_key("input role", role)
        with self.engine.begin() as conn:
            status = require_run(conn, run_id)
            conn.execute(
                run_inputs.delete().where(
                    run_inputs.c.run_id == run_id,
                    run_inputs.c.dataset_version_id == dataset_version_id,
                )
            )
            conn.execute(
                run_inputs.insert().values(
                    run_id=run_id, dataset_version_id=dataset_version_id, role=role
                )
            )
            if status != "RUNNING":
                self._audit_late_write(conn, run_id, inputs=[f"{dataset_version_id}:{role}"])

    def store_label(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def recover_dead_runs(self) -> list[str]:
        """End as KILLED the runs of this host whose process died (dead_runs.py)."""
        return end_dead_runs(self.engine, _HOST)

    def recover_journals(self) -> list[str]:
        """Replay journals left by killed processes; their runs end as KILLED."""
        recovered = []
        for path in orphaned_journals(self.stores.journal_dir):
            parsed = read_header(path)
            if parsed is None:
                continue
            header, start = parsed
            if header.store != self.store_label():
                continue
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(runs.c.status, runs.c.journal_offset).where(runs.c.id == header.run_id)
                ).first()
                if row is None:
                    continue
                points, end = read_points(path, max(start, int(row.journal_offset)))
                write_points(conn, self.engine, header.run_id, points)
                contents = read_contents(conn, header.run_id)
                values: dict[str, Any] = {"journal_offset": end, "key_values": contents.key_values}
                if row.status == "RUNNING":
                    last = max((p[3] for p in points), default=None)
                    values.update(
                        status="KILLED",
                        end_time=last or time.time(),
                        error=(
                            f"the process (pid {header.pid}) ended without closing the run; "
                            f"{len(points)} buffered metric points were recovered from its journal"
                        ),
                    )
                conn.execute(update(runs).where(runs.c.id == header.run_id).values(**values))
                if "status" in values:
                    summary = summarize(contents)
                    append_event(
                        conn,
                        RECOVERY_ACTOR,
                        "run.end",
                        _uri(header.run_id),
                        {"status": "KILLED", "recovered_points": len(points), **summary},
                    )
            path.unlink(missing_ok=True)
            recovered.append(header.run_id)
        return recovered


def require_run(conn: Connection, run_id: str) -> str:
    """The run's status, or NotFoundError when there is no such run."""
    status = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()
    if status is None:
        raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
    return str(status)


def run_uri(run_id: str) -> str:
    """`run:3f9c2a1b`, the form audit events name runs by."""
    return _uri(run_id)


def _uri(run_id: str) -> str:
    return "run:" + run_id.removeprefix("run-")
