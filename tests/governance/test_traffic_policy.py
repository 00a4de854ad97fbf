"""The traffic policy as data, and where it is read from: the newest audited event of its
scope, MAC-checked — still valid after the audit key rotates."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.governance.rotation import rotate_key
from loopml.governance.traffic_policy import (
    OPEN,
    TrafficPolicy,
    parse_traffic_policy,
    policy_in_force,
)
from loopml.sdk import Client


def test_the_default_keeps_full_traffic_for_the_approved_version() -> None:
    policy = parse_traffic_policy(None)
    assert policy == TrafficPolicy()
    assert (policy.approved_alias, policy.full_traffic) == ("champion", ["approved"])
    assert policy.partial_traffic == ["approved", "checks"] and policy.shadow == ["any"]
    assert policy.max_partial_weight == 50
    assert policy.describe_rule("approved") == "holds the protected alias 'champion'"
    assert "automatic checks passed" in policy.describe_rule("checks")
    assert policy.describe_rule("alias:challenger") == "holds the alias 'challenger'"
    assert OPEN.full_traffic == OPEN.partial_traffic == OPEN.shadow == ["any"]


def test_rules_are_deduplicated_and_round_trip() -> None:
    policy = parse_traffic_policy({"partial_traffic": ["checks", "checks", "alias:staging"]})
    assert policy.partial_traffic == ["checks", "alias:staging"]
    assert parse_traffic_policy(policy.model_dump(mode="json")) == policy


@pytest.mark.parametrize(
    "bad",
    [
        {"full_traffic": "approved"},  # a list, not a string
        {"full_traffic": [7]},
        {"max_partial_weight": True},
        {"max_partial_weight": -5},
        {"approved_alias": "latest"},
        {"shadow": ["alias:"]},
    ],
)
def test_malformed_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="invalid traffic policy"):
        parse_traffic_policy(bad)


def test_deployment_then_workspace_then_default(client: Client) -> None:
    service = client.deployments.policy
    with client.stores.engine.connect() as conn:
        assert policy_in_force(conn, "anything").scope == "default"
    service.set({"max_partial_weight": 25}, reason="workspace")
    got = service.get()
    assert (got.scope, got.policy.max_partial_weight, got.reason) == ("workspace", 25, "workspace")
    assert got.set_by == client.principal.name and got.event is not None
    assert got.to_dict()["policy"]["max_partial_weight"] == 25
    cleared = service.clear(reason="back to the default")
    assert cleared.scope == "default" and cleared.event is None


def test_the_policy_survives_a_key_rotation(client: Client) -> None:
    client.deployments.policy.set({"max_partial_weight": 15}, reason="before the rotation")
    rotate_key(client.stores)
    after = client.deployments.policy.get()
    assert (after.scope, after.policy.max_partial_weight) == ("workspace", 15)
