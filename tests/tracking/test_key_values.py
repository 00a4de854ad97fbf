"""runs.key_values: the per-run document that searches read is absent or equal to the tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text

from loopml.sdk import Client
from loopml.store import create_store_engine, upgrade_to_head
from loopml.store.migrate import alembic_config
from loopml.store.schema import runs
from loopml.tracking.key_values import KeyValues, decode

BACKENDS = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Floats whose shortest text has 16-17 digits, or that SQLite's JSON would print differently.
AWKWARD = [0.1 + 0.2, 3.40, 1 / 3, 2.0**-1074, 1.7976931348623157e308, 123456789.12345679]


@pytest.fixture(params=BACKENDS)
def db_client(request: pytest.FixtureRequest, make_client: Callable[..., Client]) -> Client:
    return make_client(request.param)


def stored(client: Client, run_id: str) -> KeyValues | None:
    with client.tracking.engine.connect() as conn:
        doc = conn.execute(select(runs.c.key_values).where(runs.c.id == run_id)).scalar()
    return None if doc is None else decode(doc)


def record_values(client: Client, run_id: str) -> KeyValues:
    record = client.get_run(run_id)
    return record.params, record.metrics, record.tags


def test_the_document_is_built_when_the_run_ends_and_keeps_floats_exact(
    db_client: Client,
) -> None:
    with db_client.start_run("exp", params={"model": "gbm"}, capture_code=False) as run:
        run.set_tag("team", "ml")
        run.log_batch(metrics=[(f"m{i}", v, 0) for i, v in enumerate(AWKWARD)])
        run.log_metric("loss", 2.0, step=0)
        run.log_metric("loss", 1.5, step=1)
        run.flush()
        assert stored(db_client, run.id) is None  # live runs are read from the tables
        live = record_values(db_client, run.id)

    expected = (
        {"model": "gbm"},
        {**{f"m{i}": v for i, v in enumerate(AWKWARD)}, "loss": 1.5},
        {"team": "ml"},
    )
    assert live == expected
    assert stored(db_client, run.id) == expected
    assert record_values(db_client, run.id) == expected
    found = db_client.search_runs("exp", filter="metrics.m1 = 3.4 and params.model = 'gbm'")
    assert [r.id for r in found] == [run.id]
    assert [(r.params, r.metrics, r.tags) for r in found] == [expected]


def test_a_run_without_key_values_has_an_empty_document(db_client: Client) -> None:
    with db_client.start_run("exp", capture_code=False) as run:
        pass

    assert stored(db_client, run.id) == ({}, {}, {})
    assert db_client.search_runs("exp")[0].params == {}


def test_writes_after_the_end_rebuild_the_document(db_client: Client) -> None:
    with db_client.start_run("exp", capture_code=False) as run:
        run.log_batch(metrics=[("loss", 0.5, 3)], params={"a": "1"}, tags={"t": "x"})
    service = db_client.tracking
    now = time.time()

    service.log_batch(run.id, [("loss", 9.0, 1, now), ("acc", 0.25, 0, now)], {"b": 2}, {})
    service.set_tags(run.id, {"t": "y", "u": "z"})
    service.log_params(run.id, {"c": "3"})

    expected = ({"a": "1", "b": "2", "c": "3"}, {"loss": 0.5, "acc": 0.25}, {"t": "y", "u": "z"})
    assert stored(db_client, run.id) == expected  # loss at step 1 is older than step 3
    assert record_values(db_client, run.id) == expected
    assert (
        db_client.search_runs("exp", filter="tags.t = 'y' and metrics.acc > 0")[0].params
        == (expected[0])
    )


def test_concurrent_writers_to_an_ended_run_leave_a_current_document(db_client: Client) -> None:
    with db_client.start_run("exp", capture_code=False) as run:
        run.log_param("first", "1")
    service = db_client.tracking

    def writer(n: int) -> None:
        for i in range(5):
            now = time.time()
            service.log_batch(run.id, [(f"m{n}", float(i), i, now)], {f"p{n}-{i}": i}, {})
            service.set_tags(run.id, {f"t{n}": str(i)})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))

    expected = (
        {"first": "1", **{f"p{n}-{i}": str(i) for n in range(4) for i in range(5)}},
        {f"m{n}": 4.0 for n in range(4)},
        {f"t{n}": "4" for n in range(4)},
    )
    assert stored(db_client, run.id) == expected
    assert record_values(db_client, run.id) == expected


def test_searches_mix_ended_and_live_runs(db_client: Client) -> None:
    with db_client.start_run("exp", "ended", params={"p": "x"}, capture_code=False) as ended:
        ended.log_metric("m", 1.0)
    live = db_client.start_run("exp", "live", params={"p": "x"}, capture_code=False)
    try:
        live.log_batch(metrics=[("m", 2.0, 0)])
        found = db_client.search_runs("exp", filter="params.p = 'x'", order_by="metrics.m DESC")
        assert [(r.name, r.metrics) for r in found] == [("live", {"m": 2.0}), ("ended", {"m": 1.0})]
    finally:
        live.end()
    assert stored(db_client, live.id) == ({"p": "x"}, {"m": 2.0}, {})


def test_an_empty_experiment_list_finds_nothing(db_client: Client) -> None:
    with db_client.start_run("exp", capture_code=False):
        pass

    assert db_client.search_runs([]) == []
    assert len(db_client.search_runs(None)) == 1


# ---------------------------------------------------------------------- migration 0006
@pytest.mark.parametrize("backend", STORES)
def test_the_migration_fills_the_document_of_existing_runs(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'loopml.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    engine = create_store_engine(url)
    try:
        command.upgrade(alembic_config(engine), "0005")
        rows: dict[str, list[dict[str, Any]]] = {
            "params": [{"r": "run-1", "k": "b", "v": "2"}, {"r": "run-1", "k": "a", "v": "1"}],
            "latest_metrics": [{"r": "run-1", "k": "m", "v": 0.1 + 0.2}],
            "tags": [{"r": "run-1", "k": "t", "v": "x"}],
        }
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO experiments VALUES ('e-1', 'exp', NULL, 'me', 1.0)"))
            for run_id in ("run-1", "run-2"):
                conn.execute(
                    text(
                        "INSERT INTO runs (id, experiment_id, name, status, start_time, "
                        "journal_offset, created_by) "
                        "VALUES (:id, 'e-1', :id, 'FINISHED', 1.0, 0, 'me')"
                    ),
                    {"id": run_id},
                )
            for table, values in rows.items():
                extra = ", 0, 1.0" if table == "latest_metrics" else ""
                columns = ", step, timestamp" if extra else ""
                conn.execute(
                    text(
                        f'INSERT INTO {table} (run_id, "key", value{columns}) '
                        f"VALUES (:r, :k, :v{extra})"
                    ),
                    values,
                )

        upgrade_to_head(engine)

        with engine.connect() as conn:
            docs = dict(conn.execute(select(runs.c.id, runs.c.key_values)).all())
        assert decode(docs["run-1"]) == ({"a": "1", "b": "2"}, {"m": 0.1 + 0.2}, {"t": "x"})
        assert list(decode(docs["run-1"])[0]) == ["a", "b"]
        assert decode(docs["run-2"]) == ({}, {}, {})
    finally:
        engine.dispose()
