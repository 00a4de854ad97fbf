"""The driver lease: one holder at a time, renewed by it, taken over once it expires,
handed over at once on release; each change of holder audited."""

from __future__ import annotations

import pytest

from loopml.controller.driver_lease import DriverLease
from loopml.errors import ValidationError
from loopml.governance import list_events
from loopml.sdk import Client


def test_one_holder_at_a_time_and_takeover_after_expiry(any_client: Client) -> None:
    first = DriverLease(any_client.stores, "server-a", lease_s=10)
    second = DriverLease(any_client.stores, "server-b", lease_s=10)
    assert second.holder() is None
    assert first.hold(now=1000.0)
    assert not second.hold(now=1001.0)
    assert first.hold(now=1005.0)  # renewed: now good until 1015
    assert not second.hold(now=1014.0)
    assert second.holder() == ("server-a", 1015.0)
    assert second.hold(now=1016.0)  # server-a stopped renewing
    assert not first.hold(now=1017.0)
    assert first.holder() == ("server-b", 1026.0)
    second.release()
    assert first.hold(now=1018.0)  # released: no need to wait for the expiry
    changes = [
        e.details for e in list_events(any_client.stores.engine) if e.action == "controller.lease"
    ]
    assert changes == [
        {"owner": "server-a", "from": None},
        {"owner": "server-b", "from": "server-a"},
        {"owner": "server-a", "from": "server-b"},
    ]


def test_a_lease_needs_a_positive_length(client: Client) -> None:
    with pytest.raises(ValidationError, match="lease_s"):
        DriverLease(client.stores, "x", lease_s=0)
