"""A remote run's first batch and its end: one write transaction each in the common case,
and every other case answered as the step-by-step path answers it (streams.py)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from loopml import ConflictError, NotFoundError, PermissionDeniedError
from loopml.governance import list_events
from loopml.governance.audit import verify_chain
from loopml.sdk import Client
from loopml.store.ids import new_id
from loopml.store.principal import FixedActor, Principal
from loopml.store.schema import metric_snapshots
from loopml.tracking.streams import Absorbed, Ended, RunStart, Segment, StreamGapError

STREAM = "stream-0001"
START = RunStart("exp", params={"lr": 0.1}, tags={"stage": "fit"})
PARAMS = {f"p{i}": i for i in range(5)}


def _points(n: int, start_step: int = 0) -> list[tuple[str, float, int, float]]:
    return [(f"m{i % 5}", 1.0 / (i + 1), start_step + i, 1_700_000_000.0 + i) for i in range(n)]


def _segment(start: int = 0, end: int = 100, n: int = 5) -> Segment:
    return Segment(STREAM, start, end, _points(n))


# COMMITs sent on SQLite connections opened since `_warm`, by engine: the held write
# connection runs its transactions on the DBAPI connection (store/write_connection.py), past
# SQLAlchemy's commit event, so SQLite's statement trace is what sees every commit.
_SQLITE_COMMITS: dict[int, list[int]] = {}


@contextmanager
def _counted(client: Client) -> Iterator[dict[str, int]]:
    """Commits, and connections taken from the pool, while the block runs."""
    counts = {"commits": 0, "checkouts": 0}
    engine = client.stores.engine
    sqlite = engine.dialect.name == "sqlite"
    before = _SQLITE_COMMITS[id(engine)][0] if sqlite else 0

    def on_commit(_conn: Any) -> None:
        counts["commits"] += 1

    def on_checkout(*_args: Any) -> None:
        counts["checkouts"] += 1

    if not sqlite:
        event.listen(engine, "commit", on_commit)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield counts
    finally:
        if sqlite:
            counts["commits"] = _SQLITE_COMMITS[id(engine)][0] - before
        else:
            event.remove(engine, "commit", on_commit)
        event.remove(engine.pool, "checkout", on_checkout)


def _events(client: Client, action: str, run_id: str) -> list[Any]:
    uri = "run:" + run_id.removeprefix("run-")
    return [e for e in list_events(client.stores.engine, uri) if e.action == action]


def _warm(client: Client) -> None:
    """The experiment exists and the held write connection is open, as on a busy server
    (on SQLite, a new one whose COMMITs are counted)."""
    engine = client.stores.engine
    if engine.dialect.name == "sqlite":
        tally = _SQLITE_COMMITS.setdefault(id(engine), [0])

        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            def trace(sql: str) -> None:
                tally[0] += sql.startswith("COMMIT")

            dbapi_conn.set_trace_callback(trace)

        client.stores.writes.close()
        engine.pool.dispose()  # connections from here on are traced
        event.listen(engine, "connect", on_connect)
    client.tracking.streams.log_batch(new_id("run"), START, {}, {}, None)


def test_a_new_runs_batch_and_end_are_one_transaction_each(any_client: Client) -> None:
    streams = any_client.tracking.streams
    _warm(any_client)
    run_id = new_id("run")
    with _counted(any_client) as batch:
        done = streams.log_batch(run_id, START, PARAMS, {"t": "x"}, _segment())
    with _counted(any_client) as end:
        ended = streams.end(run_id, "FINISHED", stream_id=STREAM, stream_end=100)
    assert done == Absorbed(100, 5) and ended == Ended(True, None)
    assert batch["commits"] == end["commits"] == 1
    # No separate read connection: SQLite's held write connection stays checked out, and a
    # PostgreSQL transaction takes one from the pool.
    taken = 0 if any_client.stores.writes.held else 1
    assert batch["checkouts"] == end["checkouts"] == taken
    record = any_client.get_run(run_id)
    assert record.status == "FINISHED"
    assert record.params == {"lr": "0.1", **{k: str(v) for k, v in PARAMS.items()}}
    assert record.tags == {"stage": "fit", "t": "x"}
    assert record.metrics == {f"m{i}": 1.0 / (i + 1) for i in range(5)}
    assert streams.absorbed(run_id, STREAM) == 100
    created, finished = (
        _events(any_client, "run.create", run_id),
        _events(any_client, "run.end", run_id),
    )
    assert [e.details for e in created] == [{"experiment": "exp", "parent": None}]
    assert len(finished) == 1 and finished[0].details["metric_points"] == 5
    assert finished[0].details["params"] == 6 and finished[0].details["tags"] == 2
    assert verify_chain(any_client.stores.engine).ok


def test_the_batch_tags_replace_the_starts(client: Client) -> None:
    run_id = new_id("run")
    client.tracking.streams.log_batch(run_id, START, {}, {"stage": "eval"}, None)
    assert client.get_run(run_id).tags == {"stage": "eval"}


def test_a_retried_batch_and_end_write_nothing_twice(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    first = streams.log_batch(run_id, START, PARAMS, {}, _segment())
    again = streams.log_batch(run_id, START, PARAMS, {}, _segment())  # a lost answer
    assert first == Absorbed(100, 5) and again == Absorbed(100, 0)
    assert streams.end(run_id, "FINISHED", stream_id=STREAM, stream_end=100).ended
    assert streams.end(run_id, "FINISHED", stream_id=STREAM, stream_end=100) == Ended(False, None)
    assert len(any_client.metric_history(run_id, "m0")) == 1
    assert len(_events(any_client, "run.create", run_id)) == 1
    assert len(_events(any_client, "run.end", run_id)) == 1
    assert not _events(any_client, "run.update", run_id)
    assert verify_chain(any_client.stores.engine).ok


def test_a_replay_after_a_crash_continues_the_stream(client: Client) -> None:
    streams = client.tracking.streams
    run_id = new_id("run")
    streams.log_batch(run_id, START, {}, {}, _segment(0, 100))
    # The replayed journal: the first segment again, then the rest, then the end.
    assert streams.log_batch(run_id, START, {}, {}, _segment(0, 100)).offset == 100  # type: ignore[union-attr]
    rest = Segment(STREAM, 100, 150, _points(2, 10))
    assert streams.end(run_id, "KILLED", segment=rest, stream_id=STREAM, stream_end=150) == Ended(
        True, Absorbed(150, 2)
    )
    assert client.get_run(run_id).status == "KILLED"


def test_an_end_with_its_last_segment_is_one_transaction(any_client: Client) -> None:
    streams = any_client.tracking.streams
    _warm(any_client)
    run_id = new_id("run")
    streams.log_batch(run_id, START, {}, {}, _segment(0, 100))
    rest = Segment(STREAM, 100, 150, _points(2, 10))
    with _counted(any_client) as counts:
        done = streams.end(run_id, "FINISHED", segment=rest, stream_id=STREAM, stream_end=150)
    assert done == Ended(True, Absorbed(150, 2)) and counts["commits"] == 1
    assert _events(any_client, "run.end", run_id)[0].details["metric_points"] == 7


def test_another_principals_run_id_is_a_conflict(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    streams.log_batch(run_id, START, {}, {}, None)
    any_client.stores.identity = FixedActor(Principal("mallory", "editor"))
    with pytest.raises(ConflictError, match="taken"):
        streams.log_batch(run_id, START, {"x": 1}, {}, _segment())
    with pytest.raises(ConflictError, match="taken"):
        streams.end(run_id, "FINISHED", start=START)
    record = any_client.get_run(run_id)
    assert (record.status, record.params, record.metrics) == ("RUNNING", {"lr": "0.1"}, {})


def test_a_changed_param_is_refused_and_nothing_of_the_batch_is_stored(
    any_client: Client,
) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    streams.log_batch(run_id, START, {}, {}, None)
    with pytest.raises(ConflictError, match=r"cannot change \(lr: '0.1' → '0.2'\)"):
        streams.log_batch(run_id, START, {"lr": 0.2, "new": 1}, {"t": "x"}, _segment())
    record = any_client.get_run(run_id)
    assert (record.params, record.tags, record.metrics) == ({"lr": "0.1"}, {"stage": "fit"}, {})
    assert streams.absorbed(run_id, STREAM) == 0


def test_a_new_run_whose_batch_changes_a_start_param_keeps_the_start(client: Client) -> None:
    """As separate requests: the run is created with its start's params, then the batch
    that would change one is refused whole."""
    streams = client.tracking.streams
    run_id = new_id("run")
    with pytest.raises(ConflictError, match="cannot change"):
        streams.log_batch(run_id, START, {"lr": 0.5}, {"t": "x"}, _segment())
    record = client.get_run(run_id)
    assert (record.status, record.params, record.tags) == (
        "RUNNING",
        {"lr": "0.1"},
        {"stage": "fit"},
    )
    assert record.metrics == {} and len(_events(client, "run.create", run_id)) == 1


def test_a_gap_is_refused_with_the_offset_to_resume_from(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    with pytest.raises(StreamGapError, match="resend from 0") as caught:
        streams.log_batch(run_id, START, {}, {}, _segment(40, 100))
    assert caught.value.absorbed == 0
    assert any_client.get_run(run_id).metrics == {}  # the run was created, as before
    streams.log_batch(run_id, None, {}, {}, _segment(0, 40))
    with pytest.raises(StreamGapError, match="send the rest") as short:
        streams.end(run_id, "FINISHED", stream_id=STREAM, stream_end=100)
    assert short.value.absorbed == 40 and any_client.get_run(run_id).status == "RUNNING"
    late = Segment(STREAM, 40, 100, _points(1, 20))
    with pytest.raises(StreamGapError, match="send the rest"):  # the segment stays written
        streams.end(run_id, "FINISHED", segment=late, stream_id=STREAM, stream_end=120)
    assert streams.absorbed(run_id, STREAM) == 100 and not _events(any_client, "run.end", run_id)


def test_unknown_runs_and_viewers_are_refused(any_client: Client) -> None:
    streams = any_client.tracking.streams
    unknown = new_id("run")
    with pytest.raises(NotFoundError):
        streams.end(unknown, "FINISHED", stream_id=STREAM, stream_end=0)
    with pytest.raises(NotFoundError):
        streams.log_batch(unknown, None, {}, {}, _segment())
    with pytest.raises(NotFoundError):
        streams.log_batch(new_id("run"), RunStart("exp", parent_id=unknown), {}, {}, None)
    any_client.stores.identity = FixedActor(Principal("vera", "viewer"))
    with pytest.raises(PermissionDeniedError, match="viewer"):
        streams.log_batch(new_id("run"), START, {}, {}, _segment())
    with pytest.raises(PermissionDeniedError, match="viewer"):
        streams.end(unknown, "FINISHED")


def test_late_writes_are_audited_and_the_chain_verifies(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    streams.log_batch(run_id, START, {}, {}, _segment(0, 100))
    streams.end(run_id, "FINISHED", stream_id=STREAM, stream_end=100)
    late = Segment(STREAM, 100, 120, [("m0", 9.0, 30, 1_700_000_100.0)])
    assert streams.log_batch(run_id, None, {"late": 1}, {}, late) == Absorbed(120, 1)
    assert any_client.get_run(run_id).metrics["m0"] == 9.0  # the document is kept current
    # An end sent again with a last segment after the run ended: the segment is a late write.
    more = Segment(STREAM, 120, 130, _points(1, 31))
    assert streams.end(run_id, "FAILED", segment=more, stream_id=STREAM, stream_end=130) == Ended(
        False, Absorbed(130, 1)
    )
    updates = _events(any_client, "run.update", run_id)
    assert [sorted(e.details) for e in updates] == [
        ["digest", "params"],
        ["digest", "metric_points"],
        ["digest", "metric_points"],
    ]
    record = any_client.get_run(run_id)
    assert record.status == "FINISHED" and record.params["late"] == "1"
    assert record.metrics["m0"] == 1.0  # the points of the end's segment (step 31) are newest
    assert verify_chain(any_client.stores.engine).ok


def test_a_short_run_in_one_request_is_one_transaction(any_client: Client) -> None:
    streams = any_client.tracking.streams
    _warm(any_client)
    run_id = new_id("run")
    with _counted(any_client) as counts:
        done = streams.end(
            run_id, "FINISHED", start=START, segment=_segment(), stream_id=STREAM, stream_end=100
        )
    assert done == Ended(True, Absorbed(100, 5)) and counts["commits"] == 1
    again = streams.end(
        run_id, "FINISHED", start=START, segment=_segment(), stream_id=STREAM, stream_end=100
    )
    assert again == Ended(False, Absorbed(100, 0))  # a retry, or the replay of its journal
    record = any_client.get_run(run_id)
    assert (record.status, record.params, record.tags) == (
        "FINISHED",
        {"lr": "0.1"},
        {"stage": "fit"},
    )
    assert len(record.metrics) == 5
    actions = [e.action for e in list_events(any_client.stores.engine, "run:" + run_id[4:])]
    assert actions == ["run.create", "run.end"]
    assert verify_chain(any_client.stores.engine).ok


def test_a_short_run_whose_stream_is_incomplete_is_created_but_not_ended(client: Client) -> None:
    streams = client.tracking.streams
    run_id = new_id("run")
    with pytest.raises(StreamGapError, match="send the rest") as caught:
        streams.end(
            run_id, "FINISHED", start=START, segment=_segment(), stream_id=STREAM, stream_end=150
        )
    assert caught.value.absorbed == 100  # as separate requests: created, segment written
    record = client.get_run(run_id)
    assert record.status == "RUNNING" and len(record.metrics) == 5


def test_ends_sent_at_once_end_the_run_once(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    streams.log_batch(run_id, START, {}, {}, _segment())
    with ThreadPoolExecutor(4) as pool:
        ended = list(
            pool.map(
                lambda status: streams.end(run_id, status, stream_id=STREAM, stream_end=100).ended,
                ["FINISHED", "FAILED", "KILLED", "FINISHED"],
            )
        )
    assert sorted(ended) == [False, False, False, True]
    assert len(_events(any_client, "run.end", run_id)) == 1


def test_long_series_get_their_snapshot_when_the_run_ends(make_client: Any) -> None:
    client = make_client(metric_snapshot_points=3)
    streams = client.tracking.streams
    run_id = new_id("run")
    points = [("loss", 1.0 / (i + 1), i, 1_700_000_000.0 + i) for i in range(4)]
    streams.log_batch(run_id, START, {}, {}, Segment(STREAM, 0, 80, points))
    streams.end(run_id, "FINISHED", stream_id=STREAM, stream_end=80)
    with client.stores.engine.connect() as conn:
        rows = conn.execute(select(metric_snapshots.c.key, metric_snapshots.c.points)).all()
    assert [tuple(row) for row in rows] == [("loss", 4)]
    assert [p.step for p in client.metric_history(run_id, "loss")] == [0, 1, 2, 3]
