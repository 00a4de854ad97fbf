"""Ids: readable, never colliding, and accepted back by any unambiguous prefix."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from loopml.errors import NotFoundError, ValidationError
from loopml.store import new_id, resolve_prefix, short_id, upgrade_to_head
from loopml.store.schema import experiments


def test_new_id_is_readable_and_96_bits() -> None:
    made = [new_id("run") for _ in range(1000)]

    assert len(set(made)) == 1000
    assert all(re.fullmatch(r"run-[0-9a-f]{24}", i) for i in made)
    assert short_id(made[0]) == made[0][: len("run-") + 8]


def test_far_past_the_old_birthday_bound_ids_stay_unique() -> None:
    # 32-bit ids reached even odds of a collision at ~77,000 ids; 400,000 of them would
    # hold about 19 colliding pairs (the chance of none is e^-19). 96 bits hold none.
    count = 400_000
    made = {new_id("run") for _ in range(count)}

    assert len(made) == count
    old = {f"run-{i >> 64:08x}" for i in (int(x[4:], 16) for x in made)}  # their top 32 bits
    assert len(old) < count  # the old width collides on the same draws


def _store(engine: Engine, names: list[str]) -> None:
    upgrade_to_head(engine)
    with engine.begin() as conn:
        conn.execute(
            experiments.insert(),
            [{"id": n, "name": n, "created_by": "t", "created_at": 0.0} for n in names],
        )


def test_unambiguous_prefixes_resolve_and_ambiguous_ones_list_candidates(
    engine: Engine,
) -> None:
    _store(engine, ["exp-abc111", "exp-abc222", "exp-abd333", "exp-12345678"])

    with engine.connect() as conn:
        assert resolve_prefix(conn, experiments, "exp-abc1", "experiment") == "exp-abc111"
        assert resolve_prefix(conn, experiments, "exp-abd", "experiment") == "exp-abd333"
        # an exact id wins even when it is the start of another
        assert resolve_prefix(conn, experiments, "exp-12345678", "experiment") == "exp-12345678"
        with pytest.raises(ValidationError, match=r"ambiguous.*exp-abc111, exp-abc222"):
            resolve_prefix(conn, experiments, "exp-abc", "experiment")
        with pytest.raises(NotFoundError, match="no experiment exp-f; list them"):
            resolve_prefix(conn, experiments, "exp-f", "experiment", "list them")
        with pytest.raises(NotFoundError):
            resolve_prefix(conn, experiments, "", "experiment")
