"""Tracking: experiments and runs in the metadata store.

The service owns every write; `Run` (run.py) is the handle a training script holds.
"""

from __future__ import annotations

import json
import mimetypes
import os
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from loopml.artifacts import ArtifactRef
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.governance import append_event, require
from loopml.store import Stores, new_id, record_artifact
from loopml.store.fastpath import RawStatement
from loopml.store.schema import (
    experiments,
    params,
    run_artifacts,
    run_inputs,
    runs,
    tags,
)
from loopml.tracking.environment import capture_code, capture_packages, environment_record
from loopml.tracking.history import read_history
from loopml.tracking.journal import (
    MetricJournal,
    Point,
    orphaned_journals,
    read_header,
    read_points,
)
from loopml.tracking.key_values import build as build_key_values
from loopml.tracking.key_values import keep_current as keep_key_values_current
from loopml.tracking.metric_writer import MetricWriter, write_points
from loopml.tracking.records import STATUSES, MetricPoint, RunList, RunRecord
from loopml.tracking.run_query import RUN_BY_ID, fetch_page, records, resolve_run_id
from loopml.validation import check_key, check_name, check_text_value

MAX_RESULTS_LIMIT = 50_000
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


class TrackingService:
    """Create, update and query experiments and runs."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine
        self._experiment_ids: dict[str, str] = {}
        self._recorded: set[str] = set()
        self._captured: dict[bytes, ArtifactRef] = {}

    # ------------------------------------------------------------------ experiments
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

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        experiment: str,
        name: str | None = None,
        *,
        parent_id: str | None = None,
        tags_: Mapping[str, Any] | None = None,
        capture: bool = True,
    ) -> str:
        """Insert a RUNNING run with its code version and environment; returns its id."""
        require(self.stores.actor, "write", "create runs")
        exp_id = self.experiment_id(experiment)
        run_id = new_id("run")
        if name is not None:
            check_name("run", name)
        tag_rows = self._tag_rows(run_id, tags_ or {})
        code = capture_code(Path.cwd()) if capture else None
        artifacts: list[tuple[str, ArtifactRef, str]] = []
        environment = None
        diff_digest = None
        if capture:
            packages = capture_packages()
            pkg_ref = self._put_captured(packages)
            artifacts.append(("environment/requirements.txt", pkg_ref, "text/plain"))
            environment = environment_record(pkg_ref.digest, packages.count(b"\n"))
            if code is not None and code.diff:
                diff_ref = self._put_captured(code.diff)
                artifacts.append(("code/uncommitted.diff", diff_ref, "text/x-diff"))
                diff_digest = diff_ref.digest
        with self.engine.begin() as conn:
            if parent_id is not None:
                self._require_run(conn, parent_id)
            _INSERT_RUN.execute(
                conn,
                {
                    "id": run_id,
                    "experiment_id": exp_id,
                    "name": name or run_id.removeprefix("run-"),
                    "parent_id": parent_id,
                    "status": "RUNNING",
                    "start_time": time.time(),
                    "end_time": None,
                    "error": None,
                    "git_commit": code.commit if code else None,
                    "git_dirty": code.dirty if code else None,
                    "git_diff_digest": diff_digest,
                    "environment": json.dumps(environment) if environment else None,
                    "journal_offset": 0,
                    "host": _HOST,
                    "pid": os.getpid(),
                    "created_by": self.stores.actor.name,
                    "key_values": None,  # built when the run ends (key_values.py)
                },
            )
            if tag_rows:
                _INSERT_TAGS.executemany(conn, tag_rows)
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
                {"experiment": experiment, "parent": parent_id},
            )
        self._recorded.update(recorded)  # only once the rows are committed
        return run_id

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
        journal = MetricJournal(self.stores.journal_dir, run_id, self._store_label())
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
        with self.engine.begin() as conn:
            write_points(conn, self.engine, run_id, points)
            if writer is None:
                _END_RUN_NO_JOURNAL.execute(
                    conn,
                    {
                        "rid": run_id,
                        "new_status": status,
                        "ended": time.time(),
                        "err": error,
                        "kv": build_key_values(conn, run_id),
                    },
                )
            else:
                _END_RUN.execute(
                    conn,
                    {
                        "rid": run_id,
                        "new_status": status,
                        "ended": time.time(),
                        "err": error,
                        "kv": build_key_values(conn, run_id),
                        "offset": offset,
                    },
                )
            append_event(conn, self.stores.actor, "run.end", _uri(run_id), {"status": status})
        if writer is not None:
            writer.journal.close(remove=True)

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
                keep_key_values_current(conn, run_id)
            return
        except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError):
            pass  # an unknown run or a key logged before: find out which, below
        with self.engine.begin() as conn:
            self._require_run(conn, run_id)
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
                keep_key_values_current(conn, run_id)

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
            with self.engine.begin() as conn:
                self._write_batch(conn, run_id, points, param_rows, tag_rows)
            return
        except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError):
            pass
        self.log_params(run_id, params_)  # raises on an unknown run or a changed param
        with self.engine.begin() as conn:
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
        if param_rows or tag_rows or points:
            keep_key_values_current(conn, run_id)

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        require(self.stores.actor, "write", "set tags")
        rows = self._tag_rows(run_id, values)
        if not rows:
            return
        with self.engine.begin() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                tags.delete().where(
                    tags.c.run_id == run_id, tags.c.key.in_([r["key"] for r in rows])
                )
            )
            conn.execute(tags.insert(), rows)
            keep_key_values_current(conn, run_id)

    def _tag_rows(self, run_id: str, values: Mapping[str, Any]) -> list[dict[str, str]]:
        return [
            {"run_id": run_id, "key": check_key("tag", k), "value": check_text_value("tag", k, v)}
            for k, v in values.items()
        ]

    def log_input(self, run_id: str, dataset_version_id: str, role: str = "training") -> None:
        require(self.stores.actor, "write", "link run inputs")
        check_key("input role", role)
        with self.engine.begin() as conn:
            self._require_run(conn, run_id)
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

    # ------------------------------------------------------------------ artifacts
    def log_artifact(self, run_id: str, source: Path, name: str | None = None) -> list[str]:
        """Store a file, or every file of a folder, under the run; returns the paths."""
        require(self.stores.actor, "write", "log artifacts")
        source = Path(source)
        if not source.exists():
            raise ValidationError(f"cannot log artifact {source}: no such file or folder")
        base = _artifact_path(name or source.name)
        if source.is_file():
            files = [(base, source)]
        else:
            files = [
                (f"{base}/{p.relative_to(source).as_posix()}", p)
                for p in sorted(source.rglob("*"))
                if p.is_file()
            ]
        stored = [(path, self.stores.artifacts.put_file(p), _media_type(path)) for path, p in files]
        with self.engine.begin() as conn:
            self._require_run(conn, run_id)
            for path, ref, media in stored:
                self._attach(conn, run_id, path, ref, media)
        return [path for path, _, _ in stored]

    def log_artifact_bytes(
        self, run_id: str, data: bytes, name: str, media_type: str | None = None
    ) -> str:
        require(self.stores.actor, "write", "log artifacts")
        path = _artifact_path(name)
        ref = self.stores.artifacts.put_bytes(data)
        with self.engine.begin() as conn:
            self._require_run(conn, run_id)
            self._attach(conn, run_id, path, ref, media_type or _media_type(path))
        return path

    def _attach(
        self, conn: Connection, run_id: str, path: str, ref: ArtifactRef, media: str
    ) -> None:
        record_artifact(conn, self.engine, ref, media)
        conn.execute(
            run_artifacts.delete().where(
                run_artifacts.c.run_id == run_id, run_artifacts.c.path == path
            )
        )
        conn.execute(
            run_artifacts.insert().values(
                run_id=run_id, path=path, digest=ref.digest, size=ref.size, media_type=media
            )
        )

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                select(
                    run_artifacts.c.path,
                    run_artifacts.c.digest,
                    run_artifacts.c.size,
                    run_artifacts.c.media_type,
                )
                .where(run_artifacts.c.run_id == run_id)
                .order_by(run_artifacts.c.path)
            )
            return [dict(r._mapping) for r in rows]

    def artifact_digest(self, run_id: str, path: str) -> str:
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            digest = conn.execute(
                select(run_artifacts.c.digest).where(
                    run_artifacts.c.run_id == run_id, run_artifacts.c.path == path
                )
            ).scalar()
        if digest is None:
            raise NotFoundError(
                f"run {run_id} has no artifact {path!r}; list them with `loopml runs show {run_id}`"
            )
        return str(digest)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self.stores.artifacts.read_bytes(self.artifact_digest(run_id, path))

    # ------------------------------------------------------------------ reading
    def _require_run(self, conn: Connection, run_id: str) -> str:
        status = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()
        if status is None:
            raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
        return str(status)

    def resolve_run_id(self, run_id: str) -> str:
        """The full id for a typed run id or an unambiguous start of one."""
        with self.engine.connect() as conn:
            return resolve_run_id(conn, run_id)

    def get_run(self, run_id: str) -> RunRecord:
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            rows = RUN_BY_ID.fetchall(conn, {"run_id": run_id})
            if not rows:
                raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
            return records(conn, rows)[0]

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> list[MetricPoint]:
        """Every point of `key`, or at most `max_points` spread evenly (history.py)."""
        run_id = self.resolve_run_id(run_id)
        with self.engine.connect() as conn:
            return read_history(conn, run_id, key, max_points)

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching `filter`, sorted by `order_by`, one page at a time."""
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not (0 < max_results <= MAX_RESULTS_LIMIT)
        ):
            raise ValidationError(f"max_results must be an integer from 1 to {MAX_RESULTS_LIMIT}")
        names = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
        ids = None if names is None else [self.experiment_id(n, create=False) for n in names]
        orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
        with self.engine.connect() as conn:
            found, token = fetch_page(conn, filter, orders, ids, max_results, page_token)
        return RunList(found, token)

    # ------------------------------------------------------------------ recovery
    def _store_label(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def recover_journals(self) -> list[str]:
        """Replay journals left by killed processes; their runs end as KILLED."""
        recovered = []
        for path in orphaned_journals(self.stores.journal_dir):
            parsed = read_header(path)
            if parsed is None:
                continue
            header, start = parsed
            if header.store != self._store_label():
                continue
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(runs.c.status, runs.c.journal_offset).where(runs.c.id == header.run_id)
                ).first()
                if row is None:
                    continue
                points, end = read_points(path, max(start, int(row.journal_offset)))
                write_points(conn, self.engine, header.run_id, points)
                values: dict[str, Any] = {
                    "journal_offset": end,
                    "key_values": build_key_values(conn, header.run_id),
                }
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
                    append_event(
                        conn,
                        "loopml-recovery",
                        "run.end",
                        _uri(header.run_id),
                        {"status": "KILLED", "recovered_points": len(points)},
                    )
            path.unlink(missing_ok=True)
            recovered.append(header.run_id)
        return recovered


def _uri(run_id: str) -> str:
    return "run:" + run_id.removeprefix("run-")


def _artifact_path(name: str) -> str:
    path = name.replace("\\", "/").strip("/")
    if not path or any(part in ("", ".", "..") for part in path.split("/")) or len(path) > 1000:
        raise ValidationError(f"artifact name {name!r} must be a relative path without '..'")
    return path


def _media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
