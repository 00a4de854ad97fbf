"""The bulk write of metric points: the same rows on every database, in the order they were
logged, and each key's latest value at its newest (step, timestamp)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from loopml.store import create_store_engine, upgrade_to_head
from loopml.tracking.journal import Point
from loopml.tracking.metric_writer import newest_per_key, write_points


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store with one experiment and one run, `r1`."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'loopml.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    engine = create_store_engine(url)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (id, name, created_by, created_at) "
                "VALUES ('e1', 'e1', 't', 1.0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, status, start_time, journal_offset,"
                " created_by) VALUES ('r1', 'e1', 'r1', 'RUNNING', 1.0, 0, 't')"
            )
        )
    yield engine
    engine.dispose()


def _write(engine: Engine, points: list[Point]) -> None:
    with engine.begin() as conn:
        write_points(conn, engine, "r1", points)


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        found = conn.execute(
            text('SELECT "key", value, step, "timestamp" FROM metrics ORDER BY id')
        ).all()
    return [tuple(row) for row in found]


def _latest(engine: Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as conn:
        found = conn.execute(
            text('SELECT "key", value, step, "timestamp", experiment_id FROM latest_metrics')
        ).all()
    return {row[0]: tuple(row[1:]) for row in found}


def test_a_batch_is_stored_row_for_row_in_logging_order(engine: Engine) -> None:
    points: list[Point] = [
        (f"m{i % 7}", i / 3, i // 7, 1000.0 + i * 0.001) for i in range(1000)
    ] + [("m0", 0.5, 3, 999.0), ("m0", -0.25, 3, 999.0)]  # repeats of one step keep order
    _write(engine, points)
    _write(engine, [("m0", 1e300, 2**62, 5e-324)])
    assert _rows(engine) == [*points, ("m0", 1e300, 2**62, 5e-324)]


def test_values_of_mixed_numeric_types_are_stored_as_numbers(engine: Engine) -> None:
    points: list[Point] = [
        ("a", 1, 0, 10),  # ints where floats are expected
        ("a", 2.5, 1, 11.0),
        ("a", np.float64(0.25), 2, np.float64(12.0)),
    ]
    _write(engine, points)
    assert _rows(engine) == [
        ("a", 1.0, 0, 10.0),
        ("a", 2.5, 1, 11.0),
        ("a", 0.25, 2, 12.0),
    ]


def test_the_latest_value_is_the_newest_step_then_timestamp(engine: Engine) -> None:
    _write(
        engine,
        [
            ("loss", 0.9, 5, 10.0),
            ("loss", 0.1, 2, 99.0),  # an older step, written later: not the latest
            ("acc", 0.5, 1, 5.0),
            ("acc", 0.6, 1, 5.0),  # the same step and time: the later point wins
            ("acc", 0.4, 1, 4.0),
        ],
    )
    assert _latest(engine) == {"loss": (0.9, 5, 10.0, "e1"), "acc": (0.6, 1, 5.0, "e1")}
    _write(engine, [("loss", 0.3, 4, 50.0), ("acc", 0.7, 1, 6.0)])  # a later batch
    assert _latest(engine) == {"loss": (0.9, 5, 10.0, "e1"), "acc": (0.7, 1, 6.0, "e1")}


def test_an_empty_batch_writes_nothing(engine: Engine) -> None:
    _write(engine, [])
    assert _rows(engine) == []
    assert _latest(engine) == {}


def test_a_batch_for_an_unknown_run_is_refused_and_leaves_nothing(engine: Engine) -> None:
    refused = engine.dialect.loaded_dbapi.IntegrityError
    with pytest.raises(refused, match=r"(?i)foreign key"), engine.begin() as conn:
        write_points(conn, engine, "nope", [("m", 1.0, 0, 1.0)])
    assert _rows(engine) == []


def _walk(points: list[Point]) -> list[Point]:
    """The definition: compare each point with the newest one seen for its key."""
    newest: dict[str, Point] = {}
    for point in points:
        seen = newest.get(point[0])
        if seen is None or (point[2], point[3]) >= (seen[2], seen[3]):
            newest[point[0]] = point
    return list(newest.values())


@pytest.mark.parametrize(
    "points",
    [
        [("a", 1.0, 0, 1.0)],
        [("a", 1.0, 2, 1.0), ("b", 2.0, 0, 1.0), ("a", 3.0, 1, 9.0), ("b", 4.0, 0, 0.5)],
        [("a", 1.0, 1, 2.0), ("a", 2.0, 1, 2.0), ("a", 3.0, 1, 2.0)],
        [("a", 1.0, 0, math.inf), ("a", 2.0, 0, 5.0), ("a", 3.0, 0, -math.inf)],
        # a NaN timestamp has no order: the pairwise walk decides, as it always did
        [("a", 1.0, 0, 5.0), ("a", 2.0, 0, math.nan), ("a", 3.0, 0, 4.0)],
        [("a", 1.0, 0, math.nan), ("a", 2.0, 0, 1.0), ("b", 3.0, 1, math.nan)],
        [("a", 1.0, 0, math.inf), ("a", 2.0, 1, -math.inf)],  # their sum is NaN
    ],
)
def test_the_newest_point_per_key_is_what_a_pairwise_walk_finds(points: list[Point]) -> None:
    assert sorted(newest_per_key(points), key=repr) == sorted(_walk(points), key=repr)


def test_the_newest_point_per_key_of_a_shuffled_batch() -> None:
    rng = np.random.default_rng(7)
    points: list[Point] = [
        (f"k{rng.integers(5)}", float(i), int(rng.integers(20)), float(rng.integers(4)))
        for i in range(500)
    ]
    assert sorted(newest_per_key(points)) == sorted(_walk(points))
