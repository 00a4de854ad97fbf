"""`run.log_model`, written once for both modes of the SDK.

Packaging a model (manifest, signature, hashes) happens in the caller's process; what the
signature learns from the training data, and where the version is registered, come from
a `ModelSources`: the local stores, or a server.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from loopml.data import DatasetVersion
from loopml.errors import ValidationError
from loopml.registry import ModelVersion
from loopml.registry.packaging import (
    MAX_CATEGORIES,
    ColumnFacts,
    Signature,
    facts_from_frame,
    facts_from_profile,
    infer_signature,
    probe_missing,
    save_model,
    with_missing_probe,
    with_training_facts,
)
from loopml.registry.packaging.flavors import pick_flavor
from loopml.tracking import RunRecord


class LoggingRun(Protocol):
    """What logging a model needs of a run (a local `Run` or a `RemoteRun`)."""

    @property
    def id(self) -> str: ...

    def log_artifact(self, path: str | Path, name: str | None = None) -> list[str]: ...

    def flush(self) -> None: ...

    def record(self) -> RunRecord: ...


@dataclass(frozen=True)
class ModelSources:
    """Where dataset versions come from and where a version is registered."""

    dataset: Callable[[str], DatasetVersion]
    load: Callable[[DatasetVersion, list[str]], pd.DataFrame]
    register: Callable[[str, str, str, str | None, dict[str, Any] | None], ModelVersion]


def log_model(
    sources: ModelSources,
    run: LoggingRun,
    model: Any,
    name: str | None,
    *,
    artifact_path: str = "model",
    input_example: Any = None,
    register: bool = False,
    signature: Any = None,
    flavor: str | None = None,
    description: str | None = None,
    card: dict[str, Any] | None = None,
    training_data: pd.DataFrame | str | None = None,
) -> ModelVersion | list[str]:
    """Save, log as run artifacts, and (with `register`) register as `name`.

    The signature's types come from `input_example`; which columns may be empty, numeric
    ranges and string levels from the training data: `training_data` (a frame or a
    dataset reference), else the dataset the run took as input (role `training`, then
    `read`) that has the example's columns. Whether the model takes a missing value in
    each column is tried on a copy of the example.
    """
    if register and name is None:
        raise ValidationError("register=True needs a model name: log_model(model, name=...)")
    example = None
    if input_example is None and isinstance(training_data, pd.DataFrame):
        input_example = training_data.head(5)
    if input_example is not None:
        frame = input_example
        if signature is None:
            signature = _signature(sources, run, model, frame, training_data, flavor)
        example = frame.head(5) if isinstance(frame, pd.DataFrame) else frame
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        folder = Path(tmp) / "model"
        save_model(
            model,
            folder,
            flavor=flavor,
            signature=signature,
            input_example=example if isinstance(example, pd.DataFrame) else None,
        )
        paths = run.log_artifact(folder, name=artifact_path)
    if not register:
        return paths
    assert name is not None
    run.flush()  # the version's metrics snapshot must include what was logged so far
    return sources.register(name, run.id, artifact_path, description, card)


def _signature(
    sources: ModelSources,
    run: LoggingRun,
    model: Any,
    frame: Any,
    training_data: pd.DataFrame | str | None,
    flavor: str | None = None,
) -> Signature:
    predicts = hasattr(model, "predict")
    if predicts:  # as the flavor will call it (a native booster takes no DataFrame)
        predict = pick_flavor(model, flavor).wrap(model).predict
    inferred = infer_signature(frame, predict(frame[:200]) if predicts else None)
    if not isinstance(frame, pd.DataFrame):
        return inferred
    facts = _training_facts(sources, run, training_data, inferred.input_names)
    if facts:
        inferred = with_training_facts(inferred, facts)
    if predicts:
        inferred = with_missing_probe(inferred, probe_missing(predict, frame))
    return inferred


def _training_facts(
    sources: ModelSources,
    run: LoggingRun,
    training_data: pd.DataFrame | str | None,
    names: list[str],
) -> dict[str, ColumnFacts]:
    """Facts of the example's columns over the training data ({} when none is known)."""
    if isinstance(training_data, pd.DataFrame):
        present = [n for n in names if n in training_data.columns]
        return facts_from_frame(training_data[present], MAX_CATEGORIES)
    ref = training_data if training_data is not None else _input_dataset(sources, run, names)
    if ref is None:
        return {}
    version = sources.dataset(ref)
    present = [n for n in names if n in version.columns]
    profile = {n: version.profile[n] for n in present if n in version.profile}
    facts = facts_from_profile(profile, version.row_count)
    # Levels beyond the profile's top values: read those columns only.
    strings = [n for n in present if facts.get(n) is not None and facts[n].categories is None]
    strings = [n for n in strings if version.profile[n].get("kind") == "categorical"]
    if strings:
        facts.update(facts_from_frame(sources.load(version, strings), MAX_CATEGORIES))
    return facts


def _input_dataset(sources: ModelSources, run: LoggingRun, names: list[str]) -> str | None:
    """The run's input dataset with every one of `names`: role `training` first."""
    inputs = run.record().inputs
    for role in ("training", "read"):
        for item in inputs:
            if item.get("role") != role:
                continue
            version = sources.dataset(item["id"])
            if set(names) <= set(version.columns):
                return version.id
    return None
