"""Experiments are created once on first use and listed with their run counts."""

from __future__ import annotations

import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.sdk import Client
from loopml.tracking.experiments import Experiments


def test_an_experiment_is_created_once_and_found_again(client: Client) -> None:
    first = client.tracking.experiments.experiment_id("churn")
    assert first.startswith("exp-")
    # A fresh instance has an empty cache, so this reads the row written above.
    assert Experiments(client.tracking.stores).experiment_id("churn", create=False) == first


def test_an_unknown_experiment_is_not_created_when_asked_not_to(client: Client) -> None:
    with pytest.raises(NotFoundError, match="no experiment named 'nope'"):
        client.tracking.experiments.experiment_id("nope", create=False)
    assert client.tracking.list_experiments() == []


def test_a_bad_name_is_refused(client: Client) -> None:
    with pytest.raises(ValidationError):
        client.tracking.experiments.experiment_id("")


def test_the_list_counts_runs(client: Client) -> None:
    client.tracking.experiments.experiment_id("empty")
    with client.start_run("busy", capture_code=False):
        pass
    with client.start_run("busy", capture_code=False):
        pass
    listed = {e["name"]: e["runs"] for e in client.tracking.list_experiments()}
    assert listed == {"busy": 2, "empty": 0}


def test_an_experiment_is_found_by_its_id(client: Client) -> None:
    made = client.tracking.experiment_id("churn")
    found = client.tracking.get_experiment(made)
    assert (found["id"], found["name"]) == (made, "churn")
    assert found["created_at"] > 0
    with pytest.raises(NotFoundError, match="no experiment with id 'exp-nope'"):
        client.tracking.get_experiment("exp-nope")
