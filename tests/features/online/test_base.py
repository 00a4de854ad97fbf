"""The online store contract, one suite over every backend (SQLite in process, real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.features.online.base import OnlineStore, ViewLayout, ViewRead
from loopml.features.online.redis import RedisOnlineStore
from loopml.features.online.sqlite import SQLiteOnlineStore

BACKENDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
LAYOUT = ViewLayout(
    "stats", True, (("rides", "float64"), ("docks", "int64"), ("name", "string"), ("open", "bool"))
)
TEXT_KEYS = ViewLayout("pairs", False, (("score", "float64"),))


@pytest.fixture(params=BACKENDS)
def online(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        store: OnlineStore = SQLiteOnlineStore(tmp_path / "online.db")
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisOnlineStore(url, "t" + uuid.uuid4().hex[:10])
    store.prepare(LAYOUT)
    store.prepare(TEXT_KEYS)
    yield store
    store.drop("stats")
    store.drop("pairs")
    store.close()


def test_values_come_back_typed_in_the_order_asked(online: OnlineStore) -> None:
    online.write(LAYOUT, [(1,), (2,)], [100.0, 200.0], [(1.5, 3, "a", True), (2.5, 4, None, False)])
    [found] = online.read([ViewRead(LAYOUT, ("name", "rides", "open"), [(2,), (3,), (1,)])])
    assert found == [(200.0, (None, 2.5, False)), None, (100.0, ("a", 1.5, True))]
    assert online.count("stats") == 2


def test_several_views_are_read_at_once(online: OnlineStore) -> None:
    online.write(LAYOUT, [(1,)], [100.0], [(1.0, 1, "x", True)])
    online.write(TEXT_KEYS, [("a", 1), ("b", 2)], [5.0, 6.0], [(0.25,), (0.75,)])
    answers = online.read(
        [
            ViewRead(TEXT_KEYS, ("score",), [("b", 2), ("a", 1), ("a", 2)]),
            ViewRead(LAYOUT, ("docks",), [(1,)]),
        ]
    )
    assert answers == [[(6.0, (0.75,)), (5.0, (0.25,)), None], [(100.0, (1,))]]


def test_many_keys_and_empty_reads_keep_their_order(online: OnlineStore) -> None:
    """A 100-key read (one script call on Redis), with gaps, next to an empty key list."""
    keys = [(i,) for i in range(0, 200, 2)]
    online.write(
        LAYOUT, keys, [float(k) for (k,) in keys], [(k / 2, k, str(k), k % 4 == 0) for (k,) in keys]
    )
    asked = [(i,) for i in range(100)]
    [found, nothing] = online.read(
        [ViewRead(LAYOUT, ("docks", "open"), asked), ViewRead(TEXT_KEYS, ("score",), [])]
    )
    assert nothing == []
    assert found == [(float(i), (i, i % 4 == 0)) if i % 2 == 0 else None for i in range(100)]
    assert online.read([]) == []


def test_a_late_row_never_overwrites_a_fresher_one(online: OnlineStore) -> None:
    online.write(LAYOUT, [(1,)], [200.0], [(2.0, 2, "new", True)])
    online.write(LAYOUT, [(1,)], [100.0], [(1.0, 1, "old", False)])
    online.write(LAYOUT, [(1,)], [200.0], [(3.0, 3, "same time wins", True)])
    [[entry]] = online.read([ViewRead(LAYOUT, ("rides", "name"), [(1,)])])
    assert entry == (200.0, (3.0, "same time wins"))


def test_drop_forgets_a_view_and_unknown_views_read_as_missing(online: OnlineStore) -> None:
    online.write(LAYOUT, [(1,)], [1.0], [(1.0, 1, "x", True)])
    online.drop("stats")
    assert online.count("stats") == 0
    ghost = ViewLayout("ghost", True, (("x", "float64"),))
    assert online.read([ViewRead(ghost, ("x",), [(1,)])]) == [[None]]


def test_capabilities_are_declared(online: OnlineStore) -> None:
    caps = online.capabilities
    assert caps.round_trips_per_read == 1
    assert caps.shared == (caps.name == "redis")
