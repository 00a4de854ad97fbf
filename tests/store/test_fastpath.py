"""Prebuilt statements: many rows in one call, as one multi-row INSERT where the driver
takes named parameters (PostgreSQL), with the same rows and refusals as executemany."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from loopml.store.fastpath import MULTI_ROW_MAX, RawStatement

_metadata = MetaData()
_items = Table(
    "fastpath_items",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
)
_INSERT = RawStatement(_items.insert())


@pytest.fixture
def table(engine: Engine) -> Engine:
    _metadata.create_all(engine)
    return engine


@pytest.mark.parametrize("count", [1, 2, MULTI_ROW_MAX, MULTI_ROW_MAX + 1])
def test_every_row_is_written_once(table: Engine, count: int) -> None:
    rows = [{"id": i, "name": f"n{i}"} for i in range(count)]
    with table.begin() as conn:
        _INSERT.executemany(conn, rows)
    with table.connect() as conn:
        found = conn.execute(select(_items.c.id, _items.c.name).order_by(_items.c.id)).all()
    assert [tuple(r) for r in found] == [(i, f"n{i}") for i in range(count)]


def test_a_refused_row_refuses_the_whole_call(table: Engine) -> None:
    with table.begin() as conn:
        _INSERT.executemany(conn, [{"id": 1, "name": "a"}])
    refused = (IntegrityError, table.dialect.loaded_dbapi.IntegrityError)  # the driver's own
    with pytest.raises(refused), table.begin() as conn:
        _INSERT.executemany(conn, [{"id": 2, "name": "b"}, {"id": 1, "name": "again"}])
    with table.connect() as conn:
        assert conn.execute(select(_items.c.name).order_by(_items.c.id)).scalars().all() == ["a"]
