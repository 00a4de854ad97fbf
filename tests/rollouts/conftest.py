"""Fixtures shared with the deployments tests: versions trained on real data, and clients
whose workspace has an open traffic policy (these tests are about rollout mechanics; the
policy's effect on rollouts is tested on the default policy in test_policy.py)."""

from tests.deployments.conftest import any_client, broken, client, hours, register

__all__ = ["any_client", "broken", "client", "hours", "register"]
