"""Registering, finding, loading and labelling model versions; lineage."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest

from loopml import ArtifactCorruptedError, ConflictError, NotFoundError, ValidationError
from loopml.governance import list_events
from loopml.registry import ModelVersion
from loopml.sdk import Client

from .conftest import BikeData


def test_register_from_run_and_load(
    client: Client, bikes: BikeData, trained: Callable[..., ModelVersion]
) -> None:
    version = trained()
    assert version.uri == "model:bikes/1"
    assert version.flavor == "sklearn"
    assert 0.2 < version.metrics["train_r2"] < 1.0
    assert version.signature is not None
    assert [c["name"] for c in version.signature["inputs"]][:2] == list(
        bikes.train.drop(columns=["bikers"]).columns[:2]
    )
    model = client.models.load("model:bikes/1")
    x = bikes.later.drop(columns=["bikers"])
    assert np.all(np.isfinite(model.predict(x)))
    second = trained(alpha=10.0)
    assert second.version == 2
    assert client.models.get("bikes").version == 2  # latest
    assert client.models.get(second.id).uri == "model:bikes/2"


def test_lineage_reaches_data_code_and_environment(
    client: Client, trained: Callable[..., ModelVersion]
) -> None:
    version = trained()
    chain = client.models.lineage(version.uri)
    assert chain["run"]["uri"].startswith("run:")
    assert chain["run"]["params"] == {"alpha": "1.0"}
    assert chain["datasets"][0]["uri"] == "dataset:bikes-train@1"
    assert chain["datasets"][0]["role"] == "training"
    assert chain["environment"]["python"]
    text = client.models.lineage_text(version.uri)
    assert "model:bikes/1" in text and "dataset:bikes-train@1" in text and "run:" in text


def test_registering_from_a_failed_run_is_refused(
    client: Client, bikes: BikeData, trained: Callable[..., ModelVersion]
) -> None:
    trained()
    with pytest.raises(RuntimeError), client.start_run("bikes") as run:
        from sklearn.linear_model import Ridge

        x = bikes.train.drop(columns=["bikers"])
        run.log_model(Ridge().fit(x, bikes.train["bikers"]), input_example=x)
        raise RuntimeError("evaluation crashed")
    with pytest.raises(ValidationError, match="FAILED"):
        client.models.register("bikes", run.id)
    assert client.models.model("bikes").latest_version == 1


def test_registering_without_a_model_or_run(client: Client) -> None:
    with client.start_run("bikes") as run:
        run.log_metric("x", 1.0)
    with pytest.raises(NotFoundError, match="no model"):
        client.models.register("bikes", run.id)
    with pytest.raises(NotFoundError, match="no run"):
        client.models.register("bikes", "run-00000000")
    with pytest.raises(ValidationError, match="model name"):
        client.models.register("bad name", run.id)


def test_unprotected_aliases_move_and_protected_are_refused(
    client: Client, trained: Callable[..., ModelVersion]
) -> None:
    trained()
    trained(alpha=5.0)
    moved = client.models.registry.set_alias("bikes", "challenger", 2)
    assert moved.aliases == ["challenger"]
    assert client.models.get("bikes@challenger").version == 2
    with pytest.raises(ConflictError, match="protected"):
        client.models.registry.set_alias("bikes", "champion", 2)
    assert "champion" not in client.models.model("bikes").aliases
    with pytest.raises(NotFoundError, match="no alias"):
        client.models.get("bikes@champion")
    with pytest.raises(ValidationError, match="alias"):
        client.models.registry.set_alias("bikes", "latest", 1)


def test_lifecycle_states(client: Client, trained: Callable[..., ModelVersion]) -> None:
    trained()
    assert client.models.registry.set_state("bikes/1", "DEPRECATED").state == "DEPRECATED"
    with pytest.raises(ValidationError, match="state"):
        client.models.registry.set_state("bikes/1", "DELETED")
    client.models.registry.set_alias("bikes", "old", 1)
    with pytest.raises(ConflictError, match="aliases"):
        client.models.registry.set_state("bikes/1", "ARCHIVED")


def test_tampered_model_file_is_refused(
    client: Client, trained: Callable[..., ModelVersion]
) -> None:
    version = trained()
    files = client.list_artifacts(version.run_id or "")
    blob = next(f for f in files if f["path"].endswith(".joblib"))
    path = client.stores.artifacts.backend.local_path(blob["digest"])
    assert path is not None
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorruptedError, match=blob["digest"][:16]):
        client.models.load(version.uri)


def test_registry_changes_are_audited(client: Client, trained: Callable[..., ModelVersion]) -> None:
    trained()
    client.models.registry.set_alias("bikes", "challenger", 1)
    actions = [e.action for e in list_events(client.stores.engine, obj="model:bikes")]
    assert "model.create" in actions and "model.register" in actions
    assert [e.action for e in list_events(client.stores.engine, obj="model:bikes@challenger")] == [
        "alias.move"
    ]
