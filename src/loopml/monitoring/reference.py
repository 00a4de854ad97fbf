"""What a window is compared with: the reference dataset, its columns, its predictions.

By default a deployment's reference is the dataset version its model was trained on, found
through lineage (model version → run → input datasets, the `training` role first).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from loopml.data import DatasetService, DatasetVersion
from loopml.deployments import Deployment
from loopml.errors import NotFoundError, ValidationError
from loopml.registry import ModelVersion, RegistryService
from loopml.tracking import TrackingService

PREDICTION = "prediction"


@dataclass(frozen=True)
class Reference:
    """A resolved reference dataset version and the model whose inputs are monitored."""

    dataset: DatasetVersion
    model: ModelVersion | None

    @property
    def model_inputs(self) -> list[str] | None:
        signature = self.model.signature if self.model else None
        if not signature:
            return None
        return [str(spec["name"]) for spec in signature.get("inputs", [])]


def primary_version(registry: RegistryService, deployment: Deployment) -> ModelVersion:
    """The model version that takes most of the deployment's live traffic."""
    route = max(deployment.routes, key=lambda r: r.weight)
    return registry.get_version(route.uri)


def training_dataset(
    tracking: TrackingService, datasets: DatasetService, version: ModelVersion
) -> DatasetVersion:
    """The dataset version the model was trained on, through the run's recorded inputs."""
    if version.run_id is None:
        raise ValidationError(
            f"{version.uri} has no run, so its training data is unknown: give the monitor a "
            "reference, e.g. --reference dataset:NAME@VERSION"
        )
    inputs = tracking.get_run(version.run_id).inputs
    if not inputs:
        raise ValidationError(
            f"the run of {version.uri} recorded no input dataset: give the monitor a reference, "
            "e.g. --reference dataset:NAME@VERSION (and log inputs with start_run(inputs=...))"
        )
    ordered = sorted(inputs, key=lambda item: item.get("role") != "training")
    try:
        return datasets.get(ordered[0]["id"])
    except NotFoundError as exc:
        raise ValidationError(
            f"{version.uri} was trained on {ordered[0]['dataset']}, which no longer exists: "
            "give the monitor a reference explicitly"
        ) from exc


def default_columns(reference: Reference, exclude: set[str]) -> list[str]:
    """The model's inputs that the reference holds (all reference columns without a model)."""
    available = [c for c in reference.dataset.columns if c not in exclude]
    inputs = reference.model_inputs
    if inputs is None:
        return available
    chosen = [c for c in inputs if c in set(available)]
    if not chosen:
        raise ValidationError(
            f"none of {reference.model.uri if reference.model else 'the model'}'s inputs "
            f"({', '.join(inputs[:8])}) is a column of {reference.dataset.uri}: name the columns "
            "to compare with --columns, or choose a reference with the model's inputs"
        )
    return chosen


def reference_relation(
    conn: duckdb.DuckDBPyConnection, datasets: DatasetService, version: DatasetVersion
) -> duckdb.DuckDBPyRelation:
    """The reference as a DuckDB relation: Parquet is read lazily, CSV through Arrow."""
    if version.format == "parquet":
        files = [str(p) for p in datasets.local_files(version)]
        return conn.read_parquet(files, union_by_name=True)
    return conn.from_arrow(datasets.load_arrow(version))


def scored_reference(
    registry: RegistryService,
    datasets: DatasetService,
    reference: Reference,
    model: ModelVersion,
) -> pd.DataFrame | None:
    """The reference's predictions: its own `prediction` column, or the model's answers.

    None when neither is possible (the reference lacks some model inputs); prediction drift
    then compares with the monitor's first window.
    """
    columns = reference.dataset.columns
    if PREDICTION in columns:
        return datasets.load(reference.dataset, [PREDICTION])
    signature = model.signature or {}
    inputs = [str(spec["name"]) for spec in signature.get("inputs", [])]
    if not inputs or not set(inputs) <= set(columns):
        return None
    frame = datasets.load(reference.dataset, inputs)
    predicted = np.asarray(registry.load(model).predict(frame))
    return pd.DataFrame({PREDICTION: predicted.reshape(len(frame), -1)[:, 0]})
