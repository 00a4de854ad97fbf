"""The rollout ledger: compare-and-set transitions, history rows, and when a hold starts."""

from __future__ import annotations

import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.rollouts.ledger import RolloutLedger
from loopml.sdk import Client
from tests.deployments.conftest import Register
from tests.rollouts.test_service import FAST, NAME, setup


def test_a_stale_revision_records_nothing(client: Client, register: Register) -> None:
    setup(client, register)
    started = client.rollouts.start(NAME, "bikes/2", FAST)
    ledger = RolloutLedger(client.stores)
    moved = ledger.record(
        started,
        "step",
        started.updated_at + 1,
        state=started.state,
        step=started.step,
        target=started.target,
        reasons=["first"],
    )
    assert moved is not None and moved.revision == started.revision + 1
    stale = ledger.record(
        started,  # still at the old revision: a second controller lost the race
        "step",
        started.updated_at + 2,
        state=started.state,
        step=started.step,
        target=started.target,
        reasons=["second"],
    )
    assert stale is None
    assert ledger.by_id(started.id).reasons == ["first"]
    assert [h["action"] for h in ledger.history(started.id)] == ["start", "step"]


def test_a_hold_starts_when_the_routing_is_live(client: Client, register: Register) -> None:
    setup(client, register)
    started = client.rollouts.start(NAME, "bikes/2", FAST)
    ledger = RolloutLedger(client.stores)
    moved = ledger.record(
        started,
        "step",
        started.updated_at + 1,
        state=started.state,
        step=started.step + 1,
        target=started.target,
        reasons=[],
    )
    assert moved is not None and moved.step_started_at is None and not moved.applied
    live = ledger.mark_applied(moved, 1234.5)
    assert live.applied and live.step_started_at == 1234.5


def test_reads_and_their_errors(client: Client, register: Register) -> None:
    setup(client, register)
    ledger = RolloutLedger(client.stores)
    assert ledger.latest(NAME) is None and ledger.due() == []
    started = client.rollouts.start(NAME, "bikes/2", FAST)
    assert ledger.latest(NAME) == started and [r.id for r in ledger.due()] == [started.id]
    assert [r.id for r in ledger.list("active")] == [started.id]
    assert ledger.list("promoted") == []
    with pytest.raises(ValidationError, match="state must be one of"):
        ledger.list("finished")
    with pytest.raises(NotFoundError, match="no rollout"):
        ledger.by_id("ro-missing")
