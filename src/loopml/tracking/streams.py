"""Metric streams: metric points that reach a run from a remote client, exactly once.

A remote client journals every point locally before `log_metric` returns, then ships the
journal in batches. A batch names its stream (one per client journal) and the byte range
of the journal's records it carries, and the run records how far into each stream it has
absorbed (`run_streams.offset`) in the transaction that writes the points. So a batch sent
again — a retry after a lost answer, or the replay of a killed client's journal — is
recognised and written once, and a batch that would leave a gap is refused with the
offset to resume from.

A remote run's two requests, its first batch (the run's creation, params, tags and the
stream's first segment) and its end, are each one write transaction in the common case:
the run is new, or the end finds it RUNNING and holding its stream. Anything else (a
retry, a run that exists, a changed param, a gap, bad input) rolls that transaction back
and takes the step-by-step path, which answers each case as separate requests would.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import ConflictError, LoopmlError, NotFoundError, ValidationError
from loopml.governance import require
from loopml.store import Stores, dialect_insert
from loopml.store.fastpath import RawStatement
from loopml.store.ids import ID_HEX_DIGITS
from loopml.store.schema import experiments, params, run_streams, runs
from loopml.tracking.captures import RemoteCapture
from loopml.tracking.journal import Point
from loopml.tracking.key_values import keep_current as keep_key_values_current
from loopml.tracking.metric_writer import write_points
from loopml.tracking.records import STATUSES
from loopml.tracking.run_digest import audit_late_write
from loopml.tracking.runs import Runs, run_uri
from loopml.validation import check_key, check_metric_value, check_step, check_text_value

_STREAM_ID = re.compile(r"^[A-Za-z0-9_\-]{8,40}$")
_CLIENT_RUN_ID = re.compile(rf"^run-[0-9a-f]{{{ID_HEX_DIGITS}}}$")
MAX_BATCH_POINTS = 100_000

# Prebuilt statements: every batch of every remote run takes this path (see fastpath.py).
_RUN_STATUS = RawStatement(select(runs.c.status).where(runs.c.id == bindparam("rid")))
_offset = select(run_streams.c.offset).where(
    run_streams.c.run_id == bindparam("rid"), run_streams.c.stream_id == bindparam("sid")
)
# FOR UPDATE on PostgreSQL; SQLite's compiler leaves it out (BEGIN IMMEDIATE serialises).
_LOCKED_OFFSET = RawStatement(_offset.with_for_update())
_STATUS_AND_OFFSET = RawStatement(
    select(runs.c.status, _offset.scalar_subquery()).where(runs.c.id == bindparam("rid"))
)
# An end's read of the run in its own write transaction: on PostgreSQL the run row is held
# (as key_values.py holds it) so that two ends sent at once do not both find it RUNNING.
_HELD_STATUS_AND_OFFSET = RawStatement(
    select(runs.c.status, _offset.scalar_subquery())
    .where(runs.c.id == bindparam("rid"))
    .with_for_update(key_share=True)
)
_SET_OFFSET = RawStatement(
    update(run_streams)
    .where(run_streams.c.run_id == bindparam("rid"), run_streams.c.stream_id == bindparam("sid"))
    .values(offset=bindparam("new_offset"), updated_at=bindparam("now"))
)
_NEW_STREAMS: dict[str, RawStatement] = {}
_INSERT_STREAM = RawStatement(run_streams.insert())
_INSERT_PARAMS = RawStatement(params.insert())
_RUN_ORIGIN = RawStatement(
    select(runs.c.created_by, experiments.c.name)
    .join(experiments, experiments.c.id == runs.c.experiment_id)
    .where(runs.c.id == bindparam("rid"))
)


def _new_stream(engine: Engine) -> RawStatement:
    """The stream's row, inserted unless it exists (one statement per dialect)."""
    found = _NEW_STREAMS.get(engine.dialect.name)
    if found is None:
        insert = dialect_insert(engine)(run_streams).values(
            run_id=bindparam("rid"),
            stream_id=bindparam("sid"),
            offset=0,
            updated_at=bindparam("now"),
        )
        found = RawStatement(insert.on_conflict_do_nothing(index_elements=["run_id", "stream_id"]))
        _NEW_STREAMS[engine.dialect.name] = found
    return found


@dataclass(frozen=True)
class Absorbed:
    """Where the run now is in the stream, and how many points this batch wrote (0: it
    had them already)."""

    offset: int
    written: int


@dataclass(frozen=True)
class Segment:
    """Bytes [start, end) of a client journal's records and the points they hold (each
    point's fields typed and bounded already; its key is checked here)."""

    stream_id: str
    start: int
    end: int
    points: Sequence[Point]


@dataclass(frozen=True)
class RunStart:
    """A run as a remote client starts it, carried by the run's first request."""

    experiment: str
    name: str | None = None
    parent_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, Any] = field(default_factory=dict)
    captured: RemoteCapture | None = None


@dataclass(frozen=True)
class Ended:
    """Whether an end request ended the run (False: it had ended), and where the run is
    in the stream whose last segment the request carried (None: it carried none)."""

    ended: bool
    absorbed: Absorbed | None


@dataclass(frozen=True)
class _Ending:
    """The end a request asks for: a final status, once the run holds `stream_id` up to
    `stream_end` (when given)."""

    status: str
    error: str | None
    stream_id: str | None
    stream_end: int | None

    def check(self) -> None:
        """Refuse the end as `finish` refuses it."""
        check_end(self.status, self.stream_id, self.stream_end)

    def ends_holding(self, held: int) -> bool:
        """Whether a run that holds its stream up to `held` ends now."""
        return self.stream_end is None or held >= self.stream_end


class _Uncommon(Exception):
    """The one-transaction path does not apply: it is rolled back, and the request goes
    step by step."""


class StreamGapError(ConflictError):
    """A batch does not start where the run's copy of the stream ends."""

    def __init__(self, message: str, absorbed: int) -> None:
        super().__init__(message)
        self.absorbed = absorbed


def check_stream_id(stream_id: Any) -> str:
    if not isinstance(stream_id, str) or not _STREAM_ID.match(stream_id):
        raise ValidationError(
            f"stream id {stream_id!r} must be 8-40 letters, digits, '_' or '-' "
            "(the client names each of its journals once)"
        )
    return stream_id


def check_end(status: str, stream_id: str | None, stream_end: int | None) -> None:
    """An end request's status, and its stream and how far the run must hold it."""
    if status not in STATUSES or status == "RUNNING":
        raise ValidationError(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
    if (stream_id is None) != (stream_end is None):
        raise ValidationError("stream_id and stream_end go together")
    if stream_id is not None:
        check_stream_id(stream_id)


def _check_segment(segment: Segment) -> None:
    """A segment's stream id, byte range and point keys (its points' other fields are
    typed and bounded already)."""
    check_stream_id(segment.stream_id)
    _check_range(segment.start, segment.end, segment.points)
    check_point_keys(segment.points)


def check_client_run_id(run_id: Any) -> str:
    """A run id a client chose for a run it creates with its first request."""
    if not isinstance(run_id, str) or not _CLIENT_RUN_ID.match(run_id):
        raise ValidationError(
            f"run id {run_id!r} must be 'run-' and {ID_HEX_DIGITS} lowercase hex digits "
            "(loopml.store.ids.new_id('run') makes one)"
        )
    return run_id


def check_points(raw: Sequence[Any]) -> list[Point]:
    """Points as (key, value, step, timestamp), each checked like `log_metric` checks it.

    A batch repeats a few keys many times: each distinct key is checked once, and points
    whose fields already have their exact types take a short path."""
    if len(raw) > MAX_BATCH_POINTS:
        raise ValidationError(
            f"a batch holds at most {MAX_BATCH_POINTS} points, got {len(raw)}; split it"
        )
    points: list[Point] = []
    append = points.append
    keys: set[str] = set()
    isfinite = math.isfinite
    for item in raw:
        if (type(item) is list or type(item) is tuple) and len(item) == 4:
            key, value, step, stamp = item
            if (
                key in keys
                and type(value) is float
                and type(step) is int
                and type(stamp) is float
                and step >= 0
                and stamp >= 0
                and isfinite(value)
                and isfinite(stamp)
            ):
                append((key, value, step, stamp))
                continue
        append(_check_point(item))
        keys.add(item[0])
    return points


def check_point_keys(points: Sequence[Point]) -> None:
    """The keys of points whose other fields are checked already, each distinct key once,
    as `log_metric` checks it."""
    for key in {point[0] for point in points}:
        check_key("metric", key)


def _check_range(start: int, end: int, points: Sequence[Point]) -> None:
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"{name} must be an integer ≥ 0, got {value!r}")
    if end < start or (end == start) != (not points):
        raise ValidationError(
            f"a batch covers bytes [start, end) of its stream and holds their points; got "
            f"[{start}, {end}) with {len(points)} point(s)"
        )


def _check_point(item: Any) -> Point:
    """One point, every field checked, with a message that says what is wrong."""
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise ValidationError(
            f"each point must be [key, value, step, timestamp], got {item!r}"[:300]
        )
    key, value, step, stamp = item
    check_key("metric", key)
    number = check_metric_value(key, value)
    check_step(key, step)
    if (
        isinstance(stamp, bool)
        or not isinstance(stamp, int | float)
        or not math.isfinite(stamp)
        or stamp < 0
    ):
        raise ValidationError(
            f"timestamp of metric {key!r} must be seconds since the epoch, got {stamp!r}"
        )
    return (key, number, step, float(stamp))


class MetricStreams:
    """Absorb batches of client journals into runs; end a run once its stream is in."""

    def __init__(self, stores: Stores, runs_: Runs) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.runs = runs_

    def ensure_run(
        self,
        run_id: str,
        experiment: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags_: Mapping[str, Any] | None = None,
        captured: RemoteCapture | None = None,
    ) -> bool:
        """Create run `run_id` as a remote client started it, unless this principal created
        it already in that experiment (the same request again: a retry or a replay);
        True if this call created it. The id of another principal's run is a conflict."""
        check_client_run_id(run_id)
        created = False
        if not self._created_before(run_id, experiment):
            try:
                self.runs.create_run(
                    experiment,
                    name,
                    parent_id=parent_id,
                    tags_=tags_,
                    capture=False,
                    local_process=False,
                    captured=captured,
                    run_id=run_id,
                )
                created = True
            except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError):
                if not self._created_before(run_id, experiment):  # not a race with itself
                    raise
        if params:  # again on a retry too: the first attempt may have stopped before them
            self.runs.log_params(run_id, params)
        return created

    def _created_before(self, run_id: str, experiment: str) -> bool:
        with self.engine.connect() as conn:
            row = _RUN_ORIGIN.fetchone(conn, {"rid": run_id})
        if row is None:
            return False
        if (row[0], row[1]) != (self.stores.actor.name, experiment):
            raise ConflictError(
                f"run id {run_id} is taken by another run; let the client choose a new one"
            )
        return True

    def absorbed(self, run_id: str, stream_id: str) -> int:
        """How many bytes of the stream's records the run holds (0 for a new stream)."""
        check_stream_id(stream_id)
        return self._status_and_offset(run_id, stream_id)[1]

    def _status_and_offset(self, run_id: str, stream_id: str) -> tuple[str, int]:
        """The run's status and how far it holds the stream, in one statement."""
        with self.engine.connect() as conn:
            row = _STATUS_AND_OFFSET.fetchone(conn, {"rid": run_id, "sid": stream_id})
        if row is None:
            raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
        return str(row[0]), 0 if row[1] is None else int(row[1])

    def absorb(
        self, run_id: str, stream_id: str, start: int, end: int, points: Sequence[Point]
    ) -> Absorbed:
        """Write the points of bytes [start, end) of a stream unless the run has them;
        returns the run's new offset in the stream. Raises StreamGapError when `start` is
        past the offset (a batch is missing): resume from `.absorbed`."""
        require(self.stores.actor, "write", "log to runs")
        check_stream_id(stream_id)
        _check_range(start, end, points)
        with self.stores.writes.begin() as conn:
            return self._absorb_in(conn, run_id, stream_id, start, end, points)

    def _absorb_in(
        self,
        conn: Connection,
        run_id: str,
        stream_id: str,
        start: int,
        end: int,
        points: Sequence[Point],
    ) -> Absorbed:
        """`absorb`'s writes in the caller's transaction (the batch checked already)."""
        if _RUN_STATUS.fetchone(conn, {"rid": run_id}) is None:
            raise NotFoundError(f"no run {run_id}; `loopml runs list` shows the runs")
        offset = self._lock_offset(conn, run_id, stream_id)
        if end <= offset:
            return Absorbed(offset, 0)  # sent before: already written
        if start != offset:
            raise StreamGapError(
                f"batch [{start}, {end}) of stream {stream_id} does not continue what run "
                f"{run_id} holds (up to {offset}); resend from {offset}",
                offset,
            )
        write_points(conn, self.engine, run_id, points)
        _SET_OFFSET.execute(
            conn, {"rid": run_id, "sid": stream_id, "new_offset": end, "now": time.time()}
        )
        if keep_key_values_current(conn, run_id):  # the run has ended: audit the write
            audit_late_write(conn, self.stores.actor, run_uri(run_id), metric_points=points)
        return Absorbed(end, len(points))

    def _lock_offset(self, conn: Connection, run_id: str, stream_id: str) -> int:
        """The stream's offset, its row created if new and held until the transaction ends
        (SQLite writers are serialised by BEGIN IMMEDIATE; PostgreSQL locks the row)."""
        key = {"rid": run_id, "sid": stream_id}
        _new_stream(self.engine).execute(conn, {**key, "now": time.time()})
        return int(_LOCKED_OFFSET.fetchone(conn, key)[0])

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        stream_id: str | None = None,
        stream_end: int | None = None,
    ) -> bool:
        """End a run once the run holds its stream up to `stream_end`; True if this call
        ended it, False if it had ended already (a retried end changes nothing)."""
        require(self.stores.actor, "write", "end runs")
        check_end(status, stream_id, stream_end)
        current, held = self._status_and_offset(run_id, "" if stream_id is None else stream_id)
        if stream_end is not None and held < stream_end:
            raise StreamGapError(
                f"run {run_id} holds stream {stream_id} up to {held}, not {stream_end}; "
                "send the rest of the stream before ending the run",
                held,
            )
        if current != "RUNNING":
            return False
        self.runs.end_run(run_id, status, error=error)
        return True

    # ------------------------------------------------------------ a remote run's requests
    def log_batch(
        self,
        run_id: str,
        start: RunStart | None,
        params_: Mapping[str, Any],
        tags_: Mapping[str, Any],
        segment: Segment | None,
    ) -> Absorbed | None:
        """A remote run's batch: the run itself if `start` is given (unless this principal
        created it already), params and tags (idempotent), then a segment of its stream;
        returns where the run is in that stream (None without a segment)."""
        if start is not None:
            try:
                return self._first_batch(run_id, start, params_, tags_, segment)
            except _Uncommon:
                pass  # nothing of it was written: step by step, below
            self._ensure_started(run_id, start)
        if params_ or tags_:
            self.runs.log_batch(run_id, [], params_, tags_)
        return None if segment is None else self._absorb_segment(run_id, segment)

    def _ensure_started(self, run_id: str, start: RunStart) -> None:
        self.ensure_run(
            run_id,
            start.experiment,
            name=start.name,
            parent_id=start.parent_id,
            params=start.params,
            tags_=start.tags,
            captured=start.captured,
        )

    def _absorb_segment(self, run_id: str, segment: Segment) -> Absorbed:
        check_point_keys(segment.points)
        return self.absorb(run_id, segment.stream_id, segment.start, segment.end, segment.points)

    def _first_batch(
        self,
        run_id: str,
        start: RunStart,
        params_: Mapping[str, Any],
        tags_: Mapping[str, Any],
        segment: Segment | None,
        ending: _Ending | None = None,
    ) -> Absorbed | None:
        """A new run's first request in one transaction: the run, its params and tags, its
        stream's first segment and, with `ending`, its end. Raises _Uncommon, having
        written nothing, for anything else: the run exists (a retry), the experiment is
        new, a param is given twice with two values, the segment does not start the
        stream, the end would wait for more of it, or any input is refused."""
        try:
            check_client_run_id(run_id)
            for what in ("create runs", "log params", "log to runs"):
                require(self.stores.actor, "write", what)
            param_rows = _param_rows(run_id, start.params, params_)
            if segment is not None:
                _check_segment(segment)
                if segment.start != 0:
                    raise _Uncommon("the segment does not start the stream")
            if ending is not None:
                require(self.stores.actor, "write", "end runs")
                ending.check()
                held = 0
                if segment is not None and segment.stream_id == ending.stream_id:
                    held = segment.end
                if not ending.ends_holding(held):
                    raise _Uncommon("the end waits for more of the stream")
            new = self.runs.prepare_run(
                start.experiment,
                start.name,
                parent_id=start.parent_id,
                tags_={**start.tags, **tags_},  # the batch's tags replace the start's
                capture=False,
                local_process=False,
                captured=start.captured,
                run_id=run_id,
                create_experiment=False,
            )
        except LoopmlError as refused:
            raise _Uncommon(str(refused)) from refused
        try:
            with self.stores.writes.begin() as conn:
                recorded = self.runs.insert_run(conn, new)
                if param_rows:
                    _INSERT_PARAMS.executemany(conn, param_rows)
                if segment is not None:  # a new run's new stream: no offset to read
                    write_points(conn, self.engine, run_id, segment.points)
                    _INSERT_STREAM.execute(
                        conn,
                        {
                            "run_id": run_id,
                            "stream_id": segment.stream_id,
                            "offset": segment.end,
                            "updated_at": time.time(),
                        },
                    )
                if ending is not None:
                    contents = self.runs.end_in(conn, run_id, ending.status, ending.error, [], None)
        except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError) as taken:
            raise _Uncommon("the run exists") from taken
        except LoopmlError as refused:
            raise _Uncommon(str(refused)) from refused
        self.runs.committed(recorded)
        if ending is not None:
            self.runs.ended(run_id, contents)
        return None if segment is None else Absorbed(segment.end, len(segment.points))

    def end(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        start: RunStart | None = None,
        segment: Segment | None = None,
        stream_id: str | None = None,
        stream_end: int | None = None,
    ) -> Ended:
        """A remote run's end: the run itself if `start` is given (a short run in one
        request), its stream's last segment, then the end once the run holds its stream up
        to `stream_end` (`finish`). Ending an ended run changes nothing."""
        try:
            if start is None:
                return self._end_at_once(run_id, status, error, segment, stream_id, stream_end)
            ending = _Ending(status, error, stream_id, stream_end)
            return Ended(True, self._first_batch(run_id, start, {}, {}, segment, ending))
        except _Uncommon:
            pass  # nothing of it was written: step by step, below
        if start is not None:
            self._ensure_started(run_id, start)
        done = None if segment is None else self._absorb_segment(run_id, segment)
        ended = self.finish(run_id, status, error=error, stream_id=stream_id, stream_end=stream_end)
        return Ended(ended, done)

    def _end_at_once(
        self,
        run_id: str,
        status: str,
        error: str | None,
        segment: Segment | None,
        stream_id: str | None,
        stream_end: int | None,
    ) -> Ended:
        """The last segment and the end in one transaction. Raises _Uncommon, having
        written nothing, unless the run is RUNNING and then holds its stream to
        `stream_end`, and the request is valid."""
        try:
            if segment is not None:
                require(self.stores.actor, "write", "log to runs")
                _check_segment(segment)
            require(self.stores.actor, "write", "end runs")
            check_end(status, stream_id, stream_end)
            held_stream = "" if stream_id is None else stream_id
        except LoopmlError as refused:
            raise _Uncommon(str(refused)) from refused
        try:
            with self.stores.writes.begin() as conn:
                done = None
                if segment is not None:
                    done = self._absorb_in(
                        conn, run_id, segment.stream_id, segment.start, segment.end, segment.points
                    )
                row = _HELD_STATUS_AND_OFFSET.fetchone(conn, {"rid": run_id, "sid": held_stream})
                held = 0 if row is None or row[1] is None else int(row[1])
                if row is None or row[0] != "RUNNING":
                    raise _Uncommon("no such run, or it has ended")
                if stream_end is not None and held < stream_end:
                    raise _Uncommon("the run does not hold its stream yet")
                contents = self.runs.end_in(conn, run_id, status, error, [], None)
        except (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError) as clash:
            raise _Uncommon("a concurrent write") from clash
        except LoopmlError as refused:
            raise _Uncommon(str(refused)) from refused
        self.runs.ended(run_id, contents)
        return Ended(True, done)


def _param_rows(
    run_id: str, first: Mapping[str, Any], then: Mapping[str, Any]
) -> list[dict[str, str]]:
    """Param rows of a run's start and of its first batch; a key in both with two values
    is _Uncommon (the step-by-step path refuses it as it always has)."""
    values: dict[str, str] = {}
    for given in (first, then):
        for key, value in given.items():
            text = check_text_value("param", check_key("param", key), value)
            if values.setdefault(key, text) != text:
                raise _Uncommon(f"param {key!r} is given two values")
    return [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()]
