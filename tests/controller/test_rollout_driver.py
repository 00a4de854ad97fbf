"""The default rollout driver, over the workspace's real `RolloutService`."""

from __future__ import annotations

import time

import pytest

from loopml.controller import Controller, RolloutServiceDriver
from loopml.controller.rollout_driver import start_reason
from loopml.errors import NotFoundError
from loopml.sdk import Client
from tests.deployments.conftest import Register
from tests.rollouts.conftest import client, hours, register

# The fixtures, shared with the rollouts tests (`client`: traffic policy open, since these
# tests are about driving rollouts, not about which versions the policy admits).
__all__ = ["client", "hours", "register"]

PLAN = {"steps": [10, 50, 100], "hold_s": 60, "min_requests": 20, "min_labelled": 20}


def test_the_controller_drives_the_clients_rollout_service(client: Client) -> None:
    driver = Controller(client).rollouts
    assert isinstance(driver, RolloutServiceDriver) and driver.service is client.rollouts
    assert driver.active(time.time()) == []


def test_a_start_is_idempotent_per_event_and_advances(client: Client, register: Register) -> None:
    register(client, 2)
    client.deployments.create("bikes-api", "model:bikes/1")
    driver = RolloutServiceDriver(client.rollouts)
    first = driver.ensure_started("bikes-api", "model:bikes/2", PLAN, key="tev-1")
    again = driver.ensure_started("bikes-api", "model:bikes/2", PLAN, key="tev-1")
    assert first["id"] == again["id"] and first["candidate"] == "model:bikes/2"
    assert start_reason("tev-1") in first["reasons"]
    assert len(client.rollouts.list(deployment="bikes-api")) == 1
    assert driver.active(time.time()) == ["bikes-api"]
    change = driver.advance("bikes-api", time.time())
    assert change.deployment == "bikes-api" and change.details["rollout"] == first["id"]
    assert change.details["candidate"] == "model:bikes/2"
    assert change.state == client.rollouts.get("bikes-api").state


def test_starting_on_a_missing_deployment_says_so(client: Client) -> None:
    driver = RolloutServiceDriver(client.rollouts)
    with pytest.raises(NotFoundError):
        driver.ensure_started("nowhere", "model:bikes/2", PLAN, key="tev-2")
