"""The validation gate: registry checks on the newest data, challenger, approval request."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from loopml.pipelines import GateResult, current_run, pipeline, step, validation_gate
from loopml.sdk import Client


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = pd.Series(range(n), dtype=float)
    noise = ((rng * 7919 + seed) % 13) / 13.0
    return pd.DataFrame(
        {"x": rng, "z": noise, "group": (rng % 2).astype(int), "y": rng * 2 + noise}
    )


@step
def train_ridge(data_name: str, alpha: float) -> dict[str, str]:
    from loopml.pipelines import current_client

    frame = current_client().datasets.load(data_name)
    features = frame.drop(columns=["y"])
    model = Ridge(alpha=alpha).fit(features, frame["y"])
    run = current_run()
    run.log_model(model, input_example=features, register=False)
    return {"run_id": run.id}


def _train_and_gate(**gate: object) -> object:
    @pipeline(name="train-and-gate")
    def train_and_gate(alpha: float = 1.0) -> object:
        candidate = train_ridge("gate-train", alpha)
        return validation_gate(
            candidate, model="gate-model", dataset="gate-data", target="y", **gate
        )

    return train_and_gate


@pytest.fixture
def data(client: Client) -> None:
    """Training rows and held-out rows: the gate never scores the rows it trained on."""
    client.log_dataset("gate-train", _frame(60, 3))
    client.log_dataset("gate-data", _frame(60, 1))


def test_a_passing_gate_registers_sets_challenger_and_opens_the_request(
    client: Client, data: None
) -> None:
    flow = _train_and_gate(thresholds=[{"metric": "r2", "op": ">=", "value": 0.9}], metric="rmse")
    result = flow.run(client)  # type: ignore[attr-defined]

    gate = result.output
    assert isinstance(gate, GateResult)
    assert gate.passed and gate.failed_checks == []
    assert gate.version == "model:gate-model/1"
    assert gate.dataset == "dataset:gate-data@1"
    assert gate.request is not None
    request = client.models.approvals.get(gate.request)
    assert (request.alias, request.version, request.status) == ("champion", 1, "PENDING")
    assert client.models.get("gate-model@challenger").version == 1
    tags = client.get_run(result.steps["validation_gate"].run_id).tags
    assert tags["loopml.gate.passed"] == "true"
    assert tags["loopml.gate.request"] == gate.request


def test_a_failing_gate_records_why_and_opens_no_request(client: Client, data: None) -> None:
    flow = _train_and_gate(thresholds=[{"metric": "rmse", "op": "<=", "value": 1e-9}])
    result = flow.run(client)  # type: ignore[attr-defined]

    gate = result.output
    assert not gate.passed and gate.request is None
    assert [c["name"] for c in gate.failed_checks] == ["threshold rmse <= 1e-09"]
    assert client.models.approvals.list("gate-model") == []
    assert "challenger" not in client.models.model("gate-model").aliases
    run_id = result.steps["validation_gate"].run_id
    assert b'"passed": false' in client.read_artifact(run_id, "gate/result.json")


def test_no_regression_compares_with_the_champion_on_the_newest_data(
    client: Client, data: None
) -> None:
    flow = _train_and_gate(metric="rmse", margin=0.0)
    client.models.registry.create_model("gate-model")
    client.models.set_policy("gate-model", {"four_eyes": False})  # a one-person team
    first = flow.run(client).output  # type: ignore[attr-defined]
    client.models.approvals.approve(first.request)
    assert client.models.get("gate-model@champion").version == 1
    client.log_dataset("gate-data", _frame(80, 5))  # newer data

    worse = flow.run(client, alpha=5000.0).output  # type: ignore[attr-defined]

    assert worse.champion == "model:gate-model/1"
    assert worse.dataset == "dataset:gate-data@2"
    assert not worse.passed
    assert worse.failed_checks[0]["name"].startswith("no regression in rmse")


def test_a_gate_on_the_training_rows_fails_the_leakage_check(client: Client) -> None:
    client.log_dataset("gate-train", _frame(60, 3))
    client.log_dataset("gate-data", _frame(60, 3).iloc[10:50])  # 40 of the training rows

    @pipeline(name="leaky-gate")
    def leaky() -> object:
        return validation_gate(
            train_ridge("gate-train", 1.0), model="gate-model", dataset="gate-data", target="y"
        )

    gate = leaky.run(client).output
    assert not gate.passed and gate.request is None
    (check,) = gate.failed_checks
    assert check["name"].startswith("no leakage between dataset:gate-data@1")
    assert "40 rows are identical to training rows" in check["message"]
    assert "dataset:gate-train@1" in check["message"]
    assert "challenger" not in client.models.model("gate-model").aliases
