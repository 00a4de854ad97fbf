"""Nothing acknowledged is lost and nothing is written twice: threads, kill -9, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from loopml.errors import LoopmlError
from loopml.prediction_log import PredictionLog, segments
from loopml.prediction_log.writer import ProcessWriter, WriterDied
from loopml.sdk import Client
from loopml.store.schema import log_segments
from tests.prediction_log.helpers import T0, rec

MakeLog = Callable[..., PredictionLog]


def _journals(log: PredictionLog) -> list[Path]:
    return sorted(log.folder.glob("*.plog"))


def _segment_count(log: PredictionLog) -> int:
    with log.stores.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(log_segments)).scalar_one())


def _assert_exactly(log: PredictionLog, ids: list[str]) -> None:
    got = log.predictions("bikes")["request_id"].tolist()
    assert len(got) == len(set(got)), "duplicated rows"
    assert sorted(got) == sorted(ids)


def test_many_threads_lose_nothing_and_repeat_nothing(client: Client, make_log: MakeLog) -> None:
    log = make_log(client.stores, flush_interval_s=0.01, flush_rows=300)
    log.start()

    def work(t: int) -> None:
        for i in range(500):
            log.record(rec(f"t{t}-{i}", at=T0 + i))
            if i % 50 == 0:
                log.record_feedback("bikes", f"t{t}-{i}", i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert _journals(log) == []  # a graceful close leaves nothing to recover
    _assert_exactly(log, [f"t{t}-{i}" for t in range(8) for i in range(500)])
    assert len(log.feedback("bikes")) == 8 * 10
    assert _segment_count(log) > 1


def test_close_writes_everything_and_refuses_new_records(client: Client) -> None:
    log = PredictionLog(client.stores, flush_interval_s=3600)
    log.start()
    log.record(rec("r"))
    log.close()
    _assert_exactly(log, ["r"])
    with pytest.raises(LoopmlError, match="closed"):
        log.record(rec("late"))


CHILD = """
import sys
from pathlib import Path
from loopml.config import load_settings
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.store import open_stores

stores = open_stores(load_settings(Path(sys.argv[1]), environ={}))
# Flushes every 1,000 rows (so part of the log is in segments) and never on a timer.
log = PredictionLog(stores, flush_interval_s=3600, flush_rows=1000, writer=sys.argv[2])
log._writer.inline_bytes = 0
i = 0
while True:
    log.record(PredictionRecord(
        "bikes", f"r{i}", "model:bikes/3", [{"x": i}], [float(i)], None, 1.0, at=1.7e9 + i
    ))
    if i % 10 == 0:
        log.record_feedback("bikes", f"r{i}", i)
    i += 1
    if i % 250 == 0:
        print(i, flush=True)  # every record up to here was acknowledged
"""


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_kill_9_loses_no_acknowledged_record(
    client: Client, make_log: MakeLog, writer: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(client.settings.root), writer],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    acknowledged = 0
    while acknowledged < 3100:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "the child died"
        acknowledged = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()

    log = make_log(client.stores)
    # Some segments were written before the kill. Their count may pass the last number read
    # here: the child runs on after printing, and a writer process (which outlives the
    # kill) finishes its last range, on a loaded machine some moments later.
    deadline = time.monotonic() + 30
    flushed = log.predictions("bikes")
    while len(flushed) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        flushed = log.predictions("bikes")
    assert len(flushed) > 0
    recovered = log.recover()
    assert recovered > 0
    got = log.predictions("bikes")["request_id"].tolist()
    assert len(got) == len(set(got)) >= acknowledged
    assert set(got) == {f"r{i}" for i in range(len(got))}  # no gap
    labels = log.feedback("bikes")["request_id"].tolist()
    assert len(labels) == len(set(labels)) >= acknowledged // 10
    assert log.recover() == 0  # the journal is gone: nothing is replayed twice
    assert _journals(log) == [log._journal.path]  # only this process's own journal is left


@contextmanager
def _commit_fails(engine: Engine, *, after_commit: bool) -> Iterator[None]:
    """Make the next transaction fail, before its commit or after it (an ambiguous commit)."""
    original = engine.begin

    @contextmanager
    def failing() -> Iterator[Any]:
        if not after_commit:
            raise OSError("database connection lost")
        with original() as conn:
            yield conn
        raise OSError("connection lost while the commit was being acknowledged")

    engine.begin = failing  # type: ignore[method-assign]
    try:
        yield
    finally:
        engine.begin = original  # type: ignore[method-assign]


@pytest.mark.parametrize("after_commit", [False, True])
def test_failed_flush_is_retried_without_duplicates(
    any_client: Client, make_log: MakeLog, after_commit: bool
) -> None:
    log = make_log(any_client.stores)
    log.record(rec("a"))
    log.record(rec("b", at=T0 + 1))
    with _commit_fails(any_client.stores.engine, after_commit=after_commit), pytest.raises(OSError):
        log.flush()
    log.record(rec("c", at=T0 + 2))
    log.flush()
    _assert_exactly(log, ["a", "b", "c"])


def test_crash_between_upload_and_commit_duplicates_nothing(
    any_client: Client, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = any_client.stores
    dead = PredictionLog(stores)
    dead.record(rec("a"))
    dead.flush()
    dead.record(rec("b", at=T0 + 1))
    dead.record_feedback("bikes", "a", 1.0)

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt  # stands for the process dying after the upload

    monkeypatch.setattr(segments, "record_artifact", crash)
    with pytest.raises(KeyboardInterrupt):
        dead.flush()
    monkeypatch.undo()
    dead._journal.close(remove=False)  # what the kernel does when the process dies

    log = make_log(stores)
    assert log.predictions("bikes")["request_id"].tolist() == ["a"]  # the orphan is unseen
    assert log.recover() == 2
    _assert_exactly(log, ["a", "b"])
    assert log.labelled("bikes")["request_id"].tolist() == ["a"]


def test_replay_after_crash_past_the_commit_repeats_nothing(
    client: Client, make_log: MakeLog
) -> None:
    dead = PredictionLog(client.stores)
    for i in range(5):
        dead.record(rec(f"r{i}", at=T0 + i))
    dead.flush()  # committed, but the process dies before the journal is removed
    dead._journal.close(remove=False)
    log = make_log(client.stores)
    assert log.recover() == 0
    _assert_exactly(log, [f"r{i}" for i in range(5)])
    assert _journals(log) == [log._journal.path]


def test_journals_rotate_once_written(client: Client, make_log: MakeLog) -> None:
    log = make_log(client.stores, rotate_bytes=2_000)
    first = log._journal.path
    for i in range(40):
        log.record(rec(f"r{i}", at=T0 + i))
        if i % 10 == 9:
            log.flush()
    assert not first.exists() and _journals(log) == [log._journal.path]
    _assert_exactly(log, [f"r{i}" for i in range(40)])


def test_journals_of_another_store_are_left_alone(
    make_client: Callable[..., Client], make_log: MakeLog, tmp_path: Path
) -> None:
    main = make_client()
    other = make_client(store_url=f"sqlite:///{tmp_path / 'other.db'}")
    dead = PredictionLog(other.stores)
    dead.record(rec("elsewhere"))
    dead._journal.close(remove=False)
    assert make_log(main.stores).recover() == 0
    log = make_log(other.stores)
    assert log.recover() == 1
    _assert_exactly(log, ["elsewhere"])


def test_live_journals_are_not_recovered(client: Client, make_log: MakeLog) -> None:
    alive = make_log(client.stores)
    alive.record(rec("mine"))
    assert make_log(client.stores).recover() == 0
    alive.flush()
    _assert_exactly(alive, ["mine"])


def test_a_writer_process_builds_the_segments(client: Client, make_log: MakeLog) -> None:
    log = make_log(client.stores, flush_interval_s=3600, writer="process")
    assert isinstance(log._writer, ProcessWriter)
    log._writer.inline_bytes = 1000  # a few records are written in this process
    log.record(rec("first", at=T0 - 1))
    assert log.flush() == 1 and log._writer.pid() is None
    for i in range(300):
        log.record(rec(f"r{i}", at=T0 + i))
    log.record_feedback("bikes", "r1", 1)
    assert log.flush() == 301
    writer = log._writer
    assert isinstance(writer, ProcessWriter)
    assert writer.pid() not in (None, os.getpid())
    pid = writer.pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)  # sent to the whole group on shutdown: the writer stays
    writer.inline_bytes = 0
    log.record(rec("last", at=T0 + 400))
    log.close()  # the last flush goes through the same writer process
    assert writer.pid() is None
    assert _journals(log) == []
    _assert_exactly(log, ["first", *(f"r{i}" for i in range(300)), "last"])
    assert log.feedback("bikes")["request_id"].tolist() == ["r1"]


def test_a_killed_writer_process_is_replaced_and_nothing_is_lost_or_doubled(
    client: Client, make_log: MakeLog
) -> None:
    log = make_log(client.stores, flush_interval_s=3600, writer="process")
    writer = log._writer
    assert isinstance(writer, ProcessWriter)
    writer.inline_bytes = 0  # every flush goes to the writer process
    log.record(rec("a"))
    log.flush()
    pid = writer.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    log.record(rec("b", at=T0 + 1))
    with pytest.raises(WriterDied):
        log.flush()  # the range stays in flight: the next flush writes it again
    log.record(rec("c", at=T0 + 2))
    assert log.flush() == 2
    assert writer.pid() not in (None, pid)
    _assert_exactly(log, ["a", "b", "c"])
