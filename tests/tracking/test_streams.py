"""Metric streams: batches of a client journal written once, gaps refused, ends checked."""

from __future__ import annotations

from typing import Any

import pytest

from loopml import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import list_events
from loopml.sdk import Client
from loopml.store.ids import new_id
from loopml.store.principal import FixedActor, Principal
from loopml.tracking.streams import Absorbed, StreamGapError, check_points

STREAM = "stream-0001"


def _points(n: int, start_step: int = 0) -> list[tuple[str, float, int, float]]:
    return [("loss", 1.0 / (i + 1), start_step + i, 1_700_000_000.0 + i) for i in range(n)]


def test_a_batch_sent_twice_is_written_once(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = any_client.tracking.create_run("exp", capture=False)
    assert streams.absorbed(run_id, STREAM) == 0
    assert streams.absorb(run_id, STREAM, 0, 100, _points(3)) == Absorbed(100, 3)
    assert streams.absorb(run_id, STREAM, 0, 100, _points(3)) == Absorbed(100, 0)  # a retry
    assert streams.absorb(run_id, STREAM, 100, 150, _points(2, 3)).offset == 150
    assert streams.absorb(run_id, STREAM, 0, 100, _points(3)) == Absorbed(150, 0)  # a replay
    history = any_client.metric_history(run_id, "loss")
    assert [p.step for p in history] == [0, 1, 2, 3, 4]
    assert streams.absorbed(run_id, STREAM) == 150
    assert streams.absorbed(run_id, "another-stream") == 0


def test_a_gap_is_refused_with_the_offset_to_resume_from(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = any_client.tracking.create_run("exp", capture=False)
    streams.absorb(run_id, STREAM, 0, 40, _points(1))
    with pytest.raises(StreamGapError, match="resend from 40") as caught:
        streams.absorb(run_id, STREAM, 80, 120, _points(1, 5))
    assert caught.value.absorbed == 40
    with pytest.raises(StreamGapError):  # overlapping but not continuing is a gap too
        streams.absorb(run_id, STREAM, 20, 60, _points(1, 5))
    assert [p.step for p in any_client.metric_history(run_id, "loss")] == [0]


def test_finish_waits_for_the_whole_stream_and_is_idempotent(client: Client) -> None:
    streams = client.tracking.streams
    run_id = client.tracking.create_run("exp", capture=False)
    streams.absorb(run_id, STREAM, 0, 10, _points(1))
    with pytest.raises(ConflictError, match="send the rest"):
        streams.finish(run_id, "FINISHED", stream_id=STREAM, stream_end=20)
    assert client.get_run(run_id).status == "RUNNING"
    assert streams.finish(run_id, "FINISHED", stream_id=STREAM, stream_end=10)
    assert not streams.finish(run_id, "FAILED")  # a retried end changes nothing
    record = client.get_run(run_id)
    assert record.status == "FINISHED" and record.metrics == {"loss": 1.0}


def test_points_after_the_end_are_audited(client: Client) -> None:
    streams = client.tracking.streams
    run_id = client.tracking.create_run("exp", capture=False)
    streams.finish(run_id, "FINISHED")
    streams.absorb(run_id, STREAM, 0, 10, _points(1))
    events = [e for e in list_events(client.stores.engine) if e.action == "run.update"]
    assert len(events) == 1 and events[0].details["metric_points"] == 1
    assert client.get_run(run_id).metrics == {"loss": 1.0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bad id", 0, 1, _points(1)), "stream id"),
        ((STREAM, -1, 1, _points(1)), "start must be"),
        ((STREAM, 5, 2, _points(1)), r"\[start, end\)"),
        ((STREAM, 0, 0, _points(1)), r"\[start, end\)"),
        ((STREAM, 0, 5, []), r"\[start, end\)"),
    ],
)
def test_malformed_batches_are_refused(client: Client, args: tuple[Any, ...], message: str) -> None:
    run_id = client.tracking.create_run("exp", capture=False)
    with pytest.raises(ValidationError, match=message):
        client.tracking.streams.absorb(run_id, *args)


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (["loss", float("nan"), 0, 1.0], "finite"),
        (["bad key!", 1.0, 0, 1.0], "may only use"),
        (["loss", 1.0, -1, 1.0], "step"),
        (["loss", 1.0, 0, "now"], "timestamp"),
        (["loss", 1.0, 0], "key, value, step, timestamp"),
        (["loss", True, 0, 1.0], "real number"),
    ],
)
def test_each_point_is_checked(point: list[Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_points([point])


def test_unknown_runs_and_viewers_are_refused(client: Client) -> None:
    streams = client.tracking.streams
    with pytest.raises(NotFoundError):
        streams.absorb("run-00000000", STREAM, 0, 10, _points(1))
    run_id = client.tracking.create_run("exp", capture=False)
    client.stores.identity = FixedActor(Principal("vera", "viewer"))
    with pytest.raises(PermissionDeniedError, match="viewer"):
        streams.absorb(run_id, STREAM, 0, 10, _points(1))
    with pytest.raises(PermissionDeniedError):
        streams.finish(run_id, "FINISHED")


def test_a_run_created_by_its_first_request_is_created_once(any_client: Client) -> None:
    streams = any_client.tracking.streams
    run_id = new_id("run")
    made = streams.ensure_run(run_id, "exp", params={"lr": 0.1}, tags_={"t": "1"})
    again = streams.ensure_run(run_id, "exp", params={"lr": 0.1}, tags_={"t": "1"})
    assert (made, again) == (True, False)  # a retry or a replay changes nothing
    record = any_client.get_run(run_id)
    assert (record.status, record.params, record.tags) == ("RUNNING", {"lr": "0.1"}, {"t": "1"})
    with pytest.raises(ConflictError, match="cannot change"):
        streams.ensure_run(run_id, "exp", params={"lr": 0.2})
    with pytest.raises(ConflictError, match="taken"):
        streams.ensure_run(run_id, "another-exp")
    any_client.stores.identity = FixedActor(Principal("mallory", "editor"))
    with pytest.raises(ConflictError, match="taken"):  # another principal's run
        streams.ensure_run(run_id, "exp")
    any_client.stores.identity = FixedActor(Principal("vera", "viewer"))
    with pytest.raises(PermissionDeniedError):
        streams.ensure_run(new_id("run"), "exp")


@pytest.mark.parametrize("bad", ["run-1234", "RUN-" + "a" * 24, "run-" + "g" * 24, 7, None])
def test_a_client_chosen_run_id_must_look_like_one(client: Client, bad: object) -> None:
    with pytest.raises(ValidationError, match="hex digits"):
        client.tracking.streams.ensure_run(bad, "exp")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        client.tracking.streams.ensure_run(new_id("run"), "exp", parent_id="run-" + "0" * 24)
