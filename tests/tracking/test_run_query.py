"""Run pages by keyset: stable under concurrent inserts; run ids typed by any unique prefix."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loopml import NotFoundError, ValidationError
from loopml.sdk import Client
from loopml.tracking.run_query import page_query

BACKENDS = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]


def _add(client: Client, name: str, m1: float | None) -> str:
    with client.start_run("paging", name, params={"p0": "x"}, capture_code=False) as run:
        if m1 is not None:
            run.log_metric("m1", m1)
    return run.id


def _walk(
    client: Client, insert_between: bool, filter: str = "params.p0 = 'x'", **kwargs: object
) -> list[str]:
    seen: list[str] = []
    token = None
    page_no = 0
    while True:
        page = client.search_runs(
            "paging", filter=filter, max_results=4, page_token=token, **kwargs
        )  # type: ignore[arg-type]
        seen += [r.name for r in page]
        token = page.next_page_token
        if token is None:
            return seen
        if insert_between:
            # runs that sort first, last, and in the middle arrive while the reader pages
            page_no += 1
            _add(client, f"new-high-{page_no}", 100.0 + page_no)
            _add(client, f"new-low-{page_no}", -100.0 - page_no)
            _add(client, f"new-mid-{page_no}", 0.5)
            _add(client, f"new-none-{page_no}", None)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("order", [[], ["metrics.m1 DESC"], ["metrics.m1"], ["name"]])
def test_pages_stay_correct_under_concurrent_inserts(
    make_client: Callable[..., Client], backend: str, order: list[str]
) -> None:
    client = make_client(backend)
    for i in range(14):
        _add(client, f"old-{i:02d}", None if i % 5 == 0 else i / 14)
    expected = _walk(client, False, order_by=order)
    assert sorted(expected) == [f"old-{i:02d}" for i in range(14)]

    seen = _walk(client, True, order_by=order)

    assert len(seen) == len(set(seen))  # no run twice
    assert [n for n in seen if n.startswith("old-")] == expected  # none skipped, in order
    if order and order[0].startswith("metrics."):
        # rows inserted ahead of the reader's position are met when the walk gets there
        assert any(n.startswith("new-") for n in seen)


@pytest.mark.parametrize("backend", BACKENDS)
def test_filtered_and_ordered_pages_stay_correct_under_concurrent_inserts(
    make_client: Callable[..., Client], backend: str
) -> None:
    """The filter's metric and param lookups follow the walked metric index (run_query.py):
    a filter on the ordering key itself, and on a param, while runs arrive."""
    client = make_client(backend)
    for i in range(14):
        _add(client, f"old-{i:02d}", None if i % 5 == 0 else i / 14)
    flt = "params.p0 = 'x' and metrics.m1 > 0.2 and metrics.m1 <= 50"
    expected = _walk(client, False, flt, order_by=["metrics.m1 DESC"])
    assert expected == [f"old-{i:02d}" for i in (13, 12, 11, 9, 8, 7, 6, 4, 3)]

    seen = _walk(client, True, flt, order_by=["metrics.m1 DESC"])

    assert len(seen) == len(set(seen))
    assert [n for n in seen if n.startswith("old-")] == expected
    # of the runs that arrived, only those matching the filter: the mid-valued ones
    assert {n.split("-")[1] for n in seen if n.startswith("new-")} <= {"mid"}


def test_an_ordered_page_checks_the_filter_before_reading_runs(client: Client) -> None:
    """SQLite's plan: walk the (key, value) index, look the filter up by the walked run id,
    and only then read the run's row (most candidates of a selective filter fail it)."""
    for i in range(3):
        _add(client, f"r{i}", float(i))
    query = page_query("metrics.m0 > 0.5 and params.p0 = 'x'", ["metrics.m1 DESC"], 1)
    with client.stores.engine.connect() as conn:
        query.fetchall(conn, {"experiment_0": "", "limit": 1})  # compiles it
        sql, order, defaults = query._compiled["sqlite"]
        values = {**defaults, "experiment_0": "", "limit": 1}
        args = tuple(values[name] for name in order or [])
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, args)]
    # (the experiment's name, looked up for each returned row, is not part of the walk)
    steps = [p for p in plan if p.startswith(("SEARCH", "SCAN")) and "experiments" not in p]
    assert "ix_latest_metrics_key_value" in steps[0]
    assert steps[-1].startswith("SEARCH runs"), plan
    assert len(steps) == 4, plan  # the index, the two filter lookups, the run; no scan


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_ids_by_unambiguous_prefix(make_client: Callable[..., Client], backend: str) -> None:
    client = make_client(backend)
    ids = [_add(client, f"r{i}", 1.0) for i in range(3)]

    for run_id in ids:
        short = run_id[: len("run-") + 8]
        assert client.get_run(short).id == run_id
        assert client.get_run(run_id.replace("run-", "run:")[:14]).id == run_id
        assert client.get_run(run_id.removeprefix("run-")[:10]).id == run_id
    with pytest.raises(ValidationError, match="ambiguous"):
        client.get_run("run-")
    with pytest.raises(NotFoundError, match="no run"):
        client.get_run("run-zzzz")


def test_a_token_from_another_search_is_refused(client: Client) -> None:
    for i in range(3):
        _add(client, f"r{i}", float(i))
    token = client.search_runs("paging", max_results=1).next_page_token
    with pytest.raises(ValidationError, match="page_token"):
        client.search_runs("paging", order_by=["metrics.m1", "name"], page_token=token)
