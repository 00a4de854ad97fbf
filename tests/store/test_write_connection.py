"""The connection the hot tracking writes share: transactions commit or roll back as with
`Engine.begin`, the audit checkpoint follows each commit at once, threads take turns, a
forked child never writes through its parent's handle, and SQLite's WAL is checkpointed by
a background thread."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from loopml.config import init_workspace, load_settings
from loopml.governance import append_event, verify_chain
from loopml.store import Stores, open_stores
from loopml.store.schema import audit_events, audit_head
from loopml.store.wal_checkpoint import BACKSTOP_PAGES, EVERY_COMMITS
from loopml.store.write_connection import WRITE_CACHE_KIB


@pytest.fixture
def stores(tmp_path: Path, store_url: str) -> Iterator[Stores]:
    root = init_workspace(tmp_path / "ws")
    opened = open_stores(load_settings(root, environ={}, store_url=store_url))
    yield opened
    opened.close()


def _events(stores: Stores) -> int:
    with stores.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def test_commits_and_checkpoints_right_after_the_commit(stores: Stores) -> None:
    with stores.writes.begin() as conn:
        append_event(conn, "tester", "thing.create", "thing:1")
    with stores.engine.connect() as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    # Written when the block ended, not when the connection is next used or given back.
    last = stores.seal.checkpoints()[-1]
    assert (last.seq, last.mac) == (head.seq, head.hash)
    assert _events(stores) == 1 and verify_chain(stores.engine).ok


def test_an_exception_rolls_back_and_the_next_transaction_works(stores: Stores) -> None:
    with pytest.raises(RuntimeError, match="boom"), stores.writes.begin() as conn:
        append_event(conn, "tester", "thing.create", "thing:1")
        raise RuntimeError("boom")
    assert _events(stores) == 0 and stores.seal.checkpoints() == []
    with stores.writes.begin() as conn:
        append_event(conn, "tester", "thing.create", "thing:2")
    assert _events(stores) == 1 and verify_chain(stores.engine).ok


def test_threads_take_turns(stores: Stores) -> None:
    def write(n: int) -> None:
        for i in range(10):
            with stores.writes.begin() as conn:
                append_event(conn, "tester", "thing.create", f"thing:{n}-{i}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert _events(stores) == 40 and verify_chain(stores.engine).ok


def _child_writes(stores: Stores) -> None:
    with stores.writes.begin() as conn:
        append_event(conn, "child", "thing.create", "thing:child")
        conn.execute(text("SELECT 1"))


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "ws")
    stores = open_stores(load_settings(root, environ={}))
    try:
        with stores.writes.begin() as conn:  # the parent now holds a connection
            append_event(conn, "parent", "thing.create", "thing:parent")
        child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(stores,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        with stores.writes.begin() as conn:
            append_event(conn, "parent", "thing.create", "thing:after")
        assert _events(stores) == 3 and verify_chain(stores.engine).ok
    finally:
        stores.close()


def test_wal_checkpoints_run_in_the_background(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "ws")
    stores = open_stores(load_settings(root, environ={}))
    try:
        checkpointer = stores.writes.checkpointer
        assert checkpointer is not None
        with stores.writes.begin() as conn:
            auto = conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
            mapped = conn.execute(text("PRAGMA mmap_size")).scalar_one()
            cache = conn.execute(text("PRAGMA cache_size")).scalar_one()
        assert auto == BACKSTOP_PAGES  # the commits themselves checkpoint only past it
        assert mapped == 0  # the writer reads through read(2); readers map the file
        # SQLite's default page cache: every commit walks the cache, a bigger one costs more
        assert cache == -WRITE_CACHE_KIB == -2000
        for i in range(EVERY_COMMITS):
            with stores.writes.begin() as conn:
                append_event(conn, "tester", "thing.create", f"thing:{i}")
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.checkpoints >= 1
        stores.writes.close()  # stops the thread; the next commits start another
        for i in range(EVERY_COMMITS):
            with stores.writes.begin() as conn:
                append_event(conn, "tester", "thing.create", f"thing:again-{i}")
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.checkpoints >= 2
        assert _events(stores) == 2 * EVERY_COMMITS and verify_chain(stores.engine).ok
    finally:
        stores.close()


def test_postgresql_has_no_wal_checkpointer(stores: Stores) -> None:
    """Only a SQLite file has a WAL of its own to checkpoint."""
    expected = stores.engine.dialect.name == "sqlite"
    assert (stores.writes.checkpointer is not None) is expected


def test_statements_through_the_connection_share_its_transaction(tmp_path: Path) -> None:
    """Core statements and prebuilt ones run in the one transaction `begin` opened: both
    commit together, and both roll back together with no checkpoint line."""
    root = init_workspace(tmp_path / "ws")
    stores = open_stores(load_settings(root, environ={}))
    try:
        with pytest.raises(RuntimeError, match="boom"), stores.writes.begin() as conn:
            conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            conn.execute(text("INSERT INTO scratch VALUES (1)"))
            append_event(conn, "tester", "thing.create", "thing:1")
            raise RuntimeError("boom")
        assert _events(stores) == 0 and stores.seal.checkpoints() == []
        with stores.writes.begin() as conn:
            found = conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'scratch'"))
            assert not found.all()
            append_event(conn, "tester", "thing.create", "thing:2")
            assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == 1
        assert _events(stores) == 1 and [c.seq for c in stores.seal.checkpoints()] == [1]
        assert verify_chain(stores.engine).ok
    finally:
        stores.close()


def test_a_failed_commit_writes_no_checkpoint(tmp_path: Path) -> None:
    """A COMMIT that fails (here: a deferred foreign key still violated) rolls back, raises
    as SQLAlchemy raises, and leaves no checkpoint line; the next transaction works."""
    root = init_workspace(tmp_path / "ws")
    stores = open_stores(load_settings(root, environ={}))
    try:
        with pytest.raises(IntegrityError), stores.writes.begin() as conn:
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            conn.execute(
                text("INSERT INTO params (run_id, \"key\", value) VALUES ('run-none', 'k', 'v')")
            )
            append_event(conn, "tester", "thing.create", "thing:1")
        assert _events(stores) == 0 and stores.seal.checkpoints() == []
        with stores.writes.begin() as conn:
            append_event(conn, "tester", "thing.create", "thing:2")
        assert _events(stores) == 1 and [c.seq for c in stores.seal.checkpoints()] == [1]
        assert verify_chain(stores.engine).ok
    finally:
        stores.close()
