"""Compaction: small segments become one per partition; nothing is lost or doubled, even when
the compacting process is killed between its steps, and the feedback join stays the same."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import func, select

from loopml.errors import ValidationError
from loopml.prediction_log import PredictionLog, compaction
from loopml.prediction_log.compaction import StoredSegment, plan_units
from loopml.prediction_log.queries import segment_files
from loopml.sdk import Client
from loopml.store.schema import log_journals, log_retired_blobs, log_segments
from tests.prediction_log.helpers import T0, rec

MakeLog = Callable[..., PredictionLog]
BACKENDS = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]
HOUR = 3600.0
START = T0 - 800  # 2023-11-14 22:00 UTC: three hours from here cross midnight


def _fill(log: PredictionLog, requests: int = 300) -> None:
    """Three hours of requests (some of several rows, some shadowed), flushed in small
    segments, a third of them labelled, some relabelled."""
    for i in range(requests):
        at = START + i * (3 * HOUR / requests)
        log.record(rec(f"r{i}", at=at, inputs=[{"x": i}] * (1 + i % 3), outputs=[i] * (1 + i % 3)))
        if i % 5 == 0:
            log.record(rec(f"r{i}", at=at, shadow=True, model="model:bikes/4"))
        if i % 3 == 0:
            log.record_feedback("bikes", f"r{i}", float(i), at=at + 30)
        if i % 9 == 0:
            log.record_feedback("bikes", f"r{i}", float(-i), at=at + 90, version=2)
        if i % 17 == 0:
            log.flush()
    log.flush()


def _state(log: PredictionLog) -> dict[str, pd.DataFrame]:
    return {
        "predictions": log.predictions("bikes", include_shadow=True),
        "window": log.predictions("bikes", since=START + HOUR / 2, until=START + 2 * HOUR),
        "labelled": log.labelled("bikes", include_shadow=True),
        "labelled_window": log.labelled("bikes", since=START + HOUR, until=START + 2.5 * HOUR),
        "feedback": log.feedback("bikes"),
    }


def _assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)


def _count(log: PredictionLog, table: object) -> int:
    with log.stores.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_compaction_keeps_every_row_and_the_feedback_join(
    make_client: Callable[..., Client], make_log: MakeLog, backend: str
) -> None:
    log = make_log(make_client(backend).stores, flush_rows=10**9)
    _fill(log)
    before = _state(log)
    small = _count(log, log_segments)
    report = log.compact("bikes", min_age_s=0)
    assert report.rows == len(before["predictions"]) + len(before["feedback"])
    assert report.segments_in == small and report.segments_out == _count(log, log_segments)
    assert report.segments_out == 3 + 2  # one per hour of predictions, per day of feedback
    _assert_same(before, _state(log))
    again = log.compact("bikes", min_age_s=0)
    assert (again.segments_in, again.segments_out) == (0, 0)  # nothing left to do
    # late rows for a compacted hour: that hour is rewritten once more, the others not
    log.record(rec("late", at=START + 10))
    log.record_feedback("bikes", "late", 1.0, at=START + 20)
    log.flush()
    late = log.compact("bikes", min_age_s=0)
    assert (late.partitions, late.segments_out) == (2, 2)
    assert "late" in set(log.labelled("bikes")["request_id"])


def test_an_open_partition_waits_and_a_window_reads_one_segment(
    client: Client, make_log: MakeLog
) -> None:
    log = make_log(client.stores, flush_rows=10**9)
    _fill(log, 120)
    now = START + 2 * HOUR + 400  # 22:00 and 23:00 closed; 00:00 still filling
    report = log.compact("bikes", min_age_s=300, now=now)
    assert report.partitions == 2 + 1  # two hours of predictions, a day of feedback
    with client.stores.engine.connect() as conn:
        rows = conn.execute(
            select(log_segments.c.id, log_segments.c.min_time).where(
                log_segments.c.kind == "predictions"
            )
        ).all()
    compacted = [t for i, t in rows if i.startswith(compaction.COMPACTED_PREFIX)]
    assert len(compacted) == 2 and max(compacted) < START + 2 * HOUR
    assert any(t >= START + 2 * HOUR for i, t in rows if i.startswith("lseg-"))
    inside = segment_files(
        client.stores, "bikes", "predictions", START + HOUR + 9, START + HOUR + 99
    )
    assert len(inside) == 1  # the one compacted segment of 23:00


def test_plans_join_partitions_a_segment_spans() -> None:
    segments = [
        StoredSegment("a", "d1", 5, 0.0, 10.0),
        StoredSegment("b", "d2", 5, 3590.0, 3610.0),  # spans hours 0 and 1
        StoredSegment("c", "d3", 5, 7300.0, 7400.0),  # alone in hour 2: nothing to do
        StoredSegment("d", "d4", 5, 10_900.0, 10_950.0),  # hour 3, still open
        StoredSegment("e", "d5", 5, 10_960.0, 10_970.0),
    ]
    units = list(plan_units(segments, 3600, closed_before=10_000.0))
    assert [(unit, [s.id for s in inputs]) for unit, inputs in units] == [([0, 1], ["a", "b"])]


def test_arguments_are_checked(client: Client) -> None:
    for bad in (0, 59, 7000, 3600.5, True):
        with pytest.raises(ValidationError, match="partition_s must be"):
            compaction.compact(client.stores, partition_s=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="min_age_s must be"):
        compaction.compact(client.stores, min_age_s=-1)


def test_a_racing_compactor_leaves_the_winner_s_segments(
    client: Client, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = make_log(client.stores, flush_rows=10**9)
    _fill(log, 60)
    before = _state(log)
    register = compaction.register
    raced: list[bool] = []

    def register_after_another(*args: object) -> None:
        if not raced:
            raced.append(True)
            monkeypatch.setattr(compaction, "register", register)
            compaction.compact(client.stores, "bikes", min_age_s=0)  # the other one wins
        register(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(compaction, "register", register_after_another)
    report = compaction.compact(client.stores, "bikes", min_age_s=0)
    assert report.skipped >= 1
    _assert_same(before, _state(log))


def test_replaced_blobs_are_deleted_after_the_grace_period_only(
    client: Client, make_log: MakeLog
) -> None:
    log = make_log(client.stores, flush_rows=10**9)
    _fill(log, 60)
    with client.stores.engine.connect() as conn:
        old = set(conn.execute(select(log_segments.c.digest)).scalars())
    log.compact("bikes", min_age_s=0, now=START + 10 * HOUR)
    assert _count(log, log_retired_blobs) == len(old)
    assert all(client.stores.artifacts.exists(d) for d in old)  # readers may hold them
    early = log.compact("bikes", retire_grace_s=600, now=START + 10 * HOUR + 60)
    assert early.blobs_removed == 0
    late = log.compact("bikes", retire_grace_s=600, now=START + 10 * HOUR + 601)
    assert late.blobs_removed == len(old) and _count(log, log_retired_blobs) == 0
    assert not any(client.stores.artifacts.exists(d) for d in old)
    assert len(log.predictions("bikes")) > 0


def test_a_journal_replayed_after_compaction_writes_nothing_twice(
    client: Client, make_log: MakeLog
) -> None:
    log = make_log(client.stores, flush_rows=10**9)
    _fill(log, 60)
    log._journal.close(remove=False)  # its process "died" with every record flushed
    before = _state(log)
    log.compact("bikes", min_age_s=0)
    assert _count(log, log_journals) >= 1
    fresh = make_log(client.stores)
    assert fresh.recover() == 0
    _assert_same(before, _state(fresh))


KILLER = """
import os, signal, sys
from pathlib import Path
from loopml.config import load_settings
from loopml.prediction_log import compaction
from loopml.store import open_stores

root, store_url, point = sys.argv[1], sys.argv[2], sys.argv[3]
extra = {"store_url": store_url} if store_url else {}
stores = open_stores(load_settings(Path(root), environ={}, **extra))


def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


if point == "outputs-written":  # the new files exist, nothing is registered
    compaction.register = die
elif point == "in-transaction":  # old segments deleted, new ones not inserted, no commit
    compaction.record_artifact = die
elif point == "after-commit":
    swap = compaction.register

    def swap_then_die(*args):
        swap(*args)
        die()

    compaction.register = swap_then_die
elif point == "removing-blobs":  # artifact rows deleted and committed, files not yet
    stores.artifacts.remove = die
compaction.compact(stores, "bikes", min_age_s=0, retire_grace_s=0)
print("not killed", flush=True)
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "point", ["outputs-written", "in-transaction", "after-commit", "removing-blobs"]
)
def test_a_compaction_killed_between_steps_loses_and_doubles_nothing(
    make_client: Callable[..., Client], make_log: MakeLog, backend: str, point: str
) -> None:
    client = make_client(backend)
    log = make_log(client.stores, flush_rows=10**9)
    _fill(log, 90)
    if point == "removing-blobs":
        log.compact("bikes", min_age_s=0)  # leaves replaced blobs to delete
        log.record(rec("late", at=START + 5))
        log.flush()
    before = _state(log)
    store_url = client.settings.store_url if backend.startswith("postgres") else ""
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(KILLER),
            str(client.settings.root),
            store_url,
            point,
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, child.stderr  # really killed at that point
    _assert_same(before, _state(log))
    finished = log.compact("bikes", min_age_s=0, retire_grace_s=0)
    _assert_same(before, _state(log))
    assert log.compact("bikes", min_age_s=0).segments_in == 0
    if point == "outputs-written":
        assert finished.segments_in > 0  # the killed compaction had changed nothing
