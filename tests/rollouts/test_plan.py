"""RolloutPlan validation, and the inputs `start`, `advance` and `abort` refuse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from loopml.deployments import Route
from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import list_events
from loopml.registry import ModelVersion
from loopml.rollouts import RolloutPlan
from loopml.rollouts.plan import parse_steps
from loopml.sdk import Client
from tests.deployments.conftest import Register

NAME = "bikes-api"


def test_the_default_plan_and_its_dict_form() -> None:
    plan = RolloutPlan()
    assert plan.steps == (10.0, 50.0, 100.0) and not plan.blue_green
    assert RolloutPlan.from_dict(plan.to_dict()) == plan
    assert RolloutPlan.from_dict(None) == plan
    assert RolloutPlan(steps=(100,)).blue_green
    assert parse_steps("5, 25%,100") == (5.0, 25.0, 100.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"steps": (50, 10, 100)}, "steps must increase strictly"),
        ({"steps": (10, 10, 100)}, "steps must increase strictly"),
        ({"steps": (10, 50)}, "the last step must be 100"),
        ({"steps": ()}, "non-empty sequence"),
        ({"steps": "10,100"}, "non-empty sequence"),
        ({"steps": (0, 100)}, "step must be greater than 0"),
        ({"steps": (10, 150)}, "at most 100"),
        ({"hold_s": -1}, "hold_s must be at least 0"),
        ({"hold_s": float("nan")}, "hold_s must be a finite number"),
        ({"min_requests": 1.5}, "min_requests must be a whole number"),
        ({"min_labelled": 0}, "min_labelled must be a whole number ≥ 1"),
        ({"max_error_rate": 5}, "fraction of requests between 0 and 1"),
        ({"max_p99_ms": 0}, "max_p99_ms must be greater than 0"),
        ({"max_accuracy_drop": -0.1}, "max_accuracy_drop must be at least 0"),
        ({"metric": "mape"}, "metric must be one of rmse"),
        ({"hold_s": 600, "timeout_s": 60}, "must be at least hold_s"),
        ({"min_per_class": 0}, "min_per_class must be a whole number ≥ 1"),
        ({"on_undecided": "promote"}, "on_undecided must be one of hold, rollback, ask"),
        ({"on_undecided": "rollback"}, "needs a deadline: set decide_within_s"),
        ({"on_undecided": "ask"}, "needs a deadline: set decide_within_s"),
        ({"decide_within_s": 0}, "decide_within_s must be greater than 0"),
        ({"hold_s": 600, "decide_within_s": 60}, "a step cannot be undecided before it has held"),
    ],
)
def test_a_plan_refuses_what_cannot_run(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RolloutPlan(**values)


def test_from_dict_names_unknown_keys_and_parse_steps_refuses_words() -> None:
    with pytest.raises(ValidationError, match=r"unknown rollout plan keys \['hold'\]"):
        RolloutPlan.from_dict({"hold": 5})
    with pytest.raises(ValidationError, match="must be a RolloutPlan or a dict"):
        RolloutPlan.from_dict([10, 100])
    with pytest.raises(ValidationError, match=r"e\.g\. 10,50,100"):
        parse_steps("ten, hundred")


# ---------------------------------------------------------------------- refused starts
@pytest.fixture
def deployed(client: Client, register: Register) -> Client:
    register(client, 3)
    client.deployments.create(NAME, "bikes/1")
    return client


def _events(client: Client) -> int:
    return len(list_events(client.stores.engine))


def test_start_refuses_bad_input_and_changes_nothing(deployed: Client) -> None:
    client = deployed
    before = (client.deployments.get(NAME), _events(client))
    with pytest.raises(NotFoundError, match=r"no deployment 'nope'"):
        client.rollouts.start("nope", "bikes/2")
    with pytest.raises(NotFoundError, match="no model version"):
        client.rollouts.start(NAME, "bikes/9")
    with pytest.raises(ValidationError, match=r"already serves all traffic.*different version"):
        client.rollouts.start(NAME, "bikes/1")
    with pytest.raises(ValidationError, match="steps must increase strictly"):
        client.rollouts.start(NAME, "bikes/2", {"steps": [50, 10, 100]})
    with pytest.raises(ValidationError, match="candidate must be a model reference"):
        client.rollouts.start(NAME, " ")
    with pytest.raises(ValidationError, match="reason must be text"):
        client.rollouts.start(NAME, "bikes/2", reason=3)  # type: ignore[arg-type]
    client.models.registry.set_state("bikes/3", "DEPRECATED")
    with pytest.raises(ValidationError, match="only REGISTERED versions can be rolled out"):
        client.rollouts.start(NAME, "bikes/3")
    assert client.deployments.get(NAME) == before[0]
    assert _events(client) == before[1] + 1  # only the state change
    assert client.rollouts.list() == []


def test_one_active_rollout_per_deployment(deployed: Client) -> None:
    client = deployed
    running = client.rollouts.start(NAME, "bikes/2")
    with pytest.raises(ConflictError, match=rf"active rollout \({running.id}\).*rollout abort"):
        client.rollouts.start(NAME, "bikes/3")
    assert client.rollouts.list("active") == [running]


def test_a_split_deployment_must_be_settled_first(deployed: Client) -> None:
    client = deployed
    client.deployments.update(
        NAME, [Route("bikes", 1, 80), Route("bikes", 2, 20)], strategy="canary"
    )
    with pytest.raises(ValidationError, match="settle the split first"):
        client.rollouts.start(NAME, "bikes/3")
    # Taking over a manual canary of the same candidate is fine: the stable is the other.
    rollout = client.rollouts.start(NAME, "bikes/2")
    assert rollout.stable == "model:bikes/1"
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 90), Route("bikes", 2, 10)]


def test_a_blue_green_start_smoke_tests_the_candidate(
    client: Client, register: Register, broken: Callable[[Client], ModelVersion]
) -> None:
    register(client)
    bad = broken(client)
    client.deployments.create(NAME, "bikes/1")
    with pytest.raises(ValidationError, match="smoke test of model:bikes/2 failed"):
        client.rollouts.start(NAME, bad.uri, RolloutPlan(steps=(100,)))
    assert client.rollouts.list() == []
    assert client.deployments.get(NAME).routes == [Route("bikes", 1)]


def test_reads_advance_and_abort_refuse_what_does_not_exist(deployed: Client) -> None:
    client = deployed
    with pytest.raises(NotFoundError, match="has no rollout; start one"):
        client.rollouts.get(NAME)
    with pytest.raises(NotFoundError, match="no deployment 'nope'"):
        client.rollouts.advance("nope")
    with pytest.raises(NotFoundError, match="no rollout 'ro-nope'"):
        client.rollouts.history("ro-nope")
    with pytest.raises(ValidationError, match="state must be one of active, running"):
        client.rollouts.list("done")
    with pytest.raises(ValidationError, match="now must be epoch seconds"):
        client.rollouts.advance(NAME, now=float("inf"))
    client.rollouts.start(NAME, "bikes/2")
    with pytest.raises(ValidationError, match="say why"):
        client.rollouts.abort(NAME, " ")


def test_viewers_cannot_start_advance_or_abort(
    deployed: Client, tmp_path: Any, make_client: Callable[..., Client]
) -> None:
    deployed.models.identity.create_principal("vic", "viewer")
    viewer = make_client(root=tmp_path / "ws", token=deployed.models.identity.create_token("vic"))
    deployed.rollouts.start(NAME, "bikes/2")
    for call in (
        lambda: viewer.rollouts.start(NAME, "bikes/3"),
        lambda: viewer.rollouts.advance(NAME),
        lambda: viewer.rollouts.abort(NAME, "no"),
    ):
        with pytest.raises(PermissionDeniedError, match="viewer"):
            call()
    assert viewer.rollouts.get(NAME).state == "running"  # reading is fine
