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
    client: Client,
    insert_between: bool,
    filter: str = "params.p0 = 'x'",
    order_by: list[str] | None = None,
) -> list[str]:
    seen: list[str] = []
    token = None
    page_no = 0
    while True:
        page = client.search_runs(
            "paging", filter=filter, order_by=order_by, max_results=4, page_token=token
        )
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


def _plan(client: Client, experiments: int | None, filter: str) -> list[str]:
    """The SEARCH and SCAN steps of SQLite's plan for an ordered page (the experiment's
    name, looked up for each returned row, is not part of the walk)."""
    query = page_query(filter, ["metrics.m1 DESC"], experiments)
    values = {"limit": 1, **{f"experiment_{i}": "" for i in range(experiments or 0)}}
    with client.stores.engine.connect() as conn:
        query.fetchall(conn, values)  # compiles it
        sql, order, defaults = query._compiled["sqlite"]
        values = {**defaults, **values}
        args = tuple(values[name] for name in order or [])
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, args)]
    return [p for p in plan if p.startswith(("SEARCH", "SCAN")) and "experiments" not in p]


@pytest.mark.parametrize(
    ("experiments", "index"),
    [
        (1, "ix_latest_metrics_experiment_key_value (experiment_id=? AND key=?)"),
        (2, "ix_latest_metrics_key_value (key=?)"),
        (None, "ix_latest_metrics_key_value (key=?)"),
    ],
)
def test_an_ordered_page_checks_the_filter_before_reading_runs(
    client: Client, experiments: int | None, index: str
) -> None:
    """SQLite's plan: walk the metric's index (one experiment's part of it when the search
    names one), look the filter up by the walked run id, and only then read the run's row
    (most candidates of a selective filter fail it)."""
    for i in range(3):
        _add(client, f"r{i}", float(i))
    steps = _plan(client, experiments, "metrics.m0 > 0.5 and params.p0 = 'x'")
    assert index in steps[0], steps
    assert steps[-1].startswith("SEARCH runs"), steps
    assert len(steps) == 4, steps  # the index, the two filter lookups, the run; no scan


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_experiment_ordered_by_a_shared_metric_pages_only_its_own_runs(
    make_client: Callable[..., Client], backend: str
) -> None:
    """A small experiment ordered by a metric a big one also logs: pages hold its own runs,
    in order, whichever experiment's values sort first."""
    client = make_client(backend)
    for i in range(12):
        with client.start_run("big", f"big-{i}", capture_code=False) as run:
            run.log_metric("m1", 100.0 + i)  # every one sorts before the small experiment's
    for i in range(5):
        _add(client, f"small-{i}", float(i))

    seen, token = [], None
    while True:
        page = client.search_runs(
            "paging", order_by=["metrics.m1 DESC"], max_results=2, page_token=token
        )
        seen += [(r.name, r.metrics["m1"]) for r in page]
        token = page.next_page_token
        if token is None:
            break

    assert seen == [(f"small-{i}", float(i)) for i in (4, 3, 2, 1, 0)]
    both = client.search_runs(["paging", "big"], order_by=["metrics.m1 DESC"], max_results=3)
    assert [r.name for r in both] == ["big-11", "big-10", "big-9"]


def test_an_unknown_run_gets_no_metric_values(client: Client) -> None:
    """The metric's experiment comes from its run: with no run there, nothing is written."""
    with pytest.raises(NotFoundError, match="no run"):
        client.tracking.log_batch("run-" + "0" * 24, [("m1", 1.0, 0, 0.0)], {}, {})


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
