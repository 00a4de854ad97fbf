"""Fixtures shared with the deployments tests: versions trained on real data."""

from tests.deployments.conftest import broken, hours, register

__all__ = ["broken", "hours", "register"]
