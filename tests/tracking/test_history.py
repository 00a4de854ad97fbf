"""Metric histories: every point, or an even sample for a chart, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from sqlalchemy import select

from loopml import MetricHistory, MetricPoint, NotFoundError, ValidationError
from loopml.sdk import Client
from loopml.store.schema import metric_snapshots
from loopml.tracking import history
from loopml.tracking.snapshots import read_columns

BACKENDS = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_whole_and_sampled_history(make_client: Callable[..., Client], backend: str) -> None:
    client = make_client(backend)
    with client.start_run("h", capture_code=False) as run:
        run.log_batch(metrics=[("loss", 1.0 / (1 + s), s) for s in range(0, 20_000, 2)])
        run.log_metric("other", 5.0, step=3)

    whole = client.metric_history(run.id, "loss")
    assert [p.step for p in whole] == list(range(0, 20_000, 2))
    assert whole[10].value == pytest.approx(1.0 / 21)

    sample = client.metric_history(run.id, "loss", max_points=101)
    steps = [p.step for p in sample]
    assert len(steps) == 101 and steps[0] == 0 and steps[-1] == 19_998
    assert steps == sorted(set(steps))
    gaps = {b - a for a, b in itertools.pairwise(steps)}
    assert max(gaps) - min(gaps) <= 2  # evenly spread
    assert all(p.value == pytest.approx(1.0 / (1 + p.step)) for p in sample)
    # fewer points than asked for: each one once
    assert [p.step for p in client.metric_history(run.id, "other", max_points=50)] == [3]
    assert client.metric_history(run.id, "absent", max_points=50) == []


def test_history_arguments_are_checked(client: Client) -> None:
    with client.start_run("h", capture_code=False) as run:
        run.log_metric("loss", 1.0)
    for bad in (0, 1, True, 10**9):
        with pytest.raises(ValidationError, match="max_points must be an integer"):
            client.metric_history(run.id, "loss", max_points=bad)
    with pytest.raises(NotFoundError, match="no run"):
        client.metric_history("run-0000ffff", "loss")


@pytest.mark.parametrize("backend", BACKENDS)
def test_long_series_are_read_back_from_their_snapshot(
    make_client: Callable[..., Client], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(backend, metric_snapshot_points=1000)
    with client.start_run("h", capture_code=False) as run:
        run.log_batch(metrics=[("loss", 1.0 / (1 + s), s) for s in range(3000)])
        run.log_batch(metrics=[("loss", -1.0, 7)])  # a step logged twice: logging order
        run.log_batch(metrics=[("acc", s / 10, s) for s in range(10)])
    with client.stores.engine.connect() as conn:
        rows = conn.execute(select(metric_snapshots.c.key, metric_snapshots.c.points)).all()
        from_rows = read_columns(conn, run.id, "loss")
    assert [tuple(r) for r in rows] == [("loss", 3001)]  # `acc` is too short for one

    def no_rows(*_args: object) -> None:
        raise AssertionError("the rows were read instead of the snapshot")

    monkeypatch.setattr(history, "read_columns", no_rows)
    whole = client.metric_history(run.id, "loss")
    assert isinstance(whole, MetricHistory) and whole == from_rows and len(whole) == 3001
    assert whole[7].value == pytest.approx(1 / 8) and whole[8] == MetricPoint(
        7, -1.0, whole[8].timestamp
    )
    assert whole.steps[-1] == 2999 and whole.values.dtype.kind == "f"
    frame = whole.to_pandas()
    assert list(frame.columns) == ["step", "value", "timestamp"] and len(frame) == 3001
    assert whole[:3] == [whole[0], whole[1], whole[2]]
    monkeypatch.undo()

    # a write after the end makes the snapshot stale: the rows are read again
    client.tracking.log_batch(run.id, [("loss", 0.5, 5000, 1.0)], {}, {})
    after = client.metric_history(run.id, "loss")
    assert len(after) == 3002 and after[len(after) - 1].step == 5000
    assert client.tracking.snapshot_metrics(run.id) == ["acc", "loss"]
    monkeypatch.setattr(history, "read_columns", no_rows)
    assert client.metric_history(run.id, "loss") == after


def test_snapshots_can_be_turned_off(make_client: Callable[..., Client]) -> None:
    client = make_client(metric_snapshot_points=0)
    with client.start_run("h", capture_code=False) as run:
        run.log_batch(metrics=[("loss", float(s), s) for s in range(2000)])
    with client.stores.engine.connect() as conn:
        assert conn.execute(select(metric_snapshots)).all() == []
    assert [p.step for p in client.metric_history(run.id, "loss")] == list(range(2000))
    assert client.metric_history(run.id, "absent") == []
