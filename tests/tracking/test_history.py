"""Metric histories: every point, or an even sample for a chart, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from loopml import NotFoundError, ValidationError
from loopml.sdk import Client

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
