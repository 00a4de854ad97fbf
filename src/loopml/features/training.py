"""Training sets from a feature service: the point-in-time join of its features onto entity
rows, versioned as a dataset whose lineage names every view, its definition version and the
dataset version it read.

Entity rows may come from a logged dataset (`"dataset:bikes@3"`), so the whole training set
is reproducible from references; and every dataset it resolves is noted as a read, so a
cached pipeline step that builds one recomputes when a view's source gets a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from loopml.data import DatasetVersion
from loopml.errors import ValidationError
from loopml.features.offline import EntityInput, HistoricalFeatures
from loopml.validation import check_name

if TYPE_CHECKING:  # the store builds training sets; this module only describes them
    from loopml.features.service import FeatureStore

DEFAULT_TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class TrainingSet:
    """A built training set: the rows, the dataset version they were logged as, the join."""

    frame: pd.DataFrame
    version: DatasetVersion
    result: HistoricalFeatures

    @property
    def uri(self) -> str:
        return self.version.uri


def training_set(
    store: FeatureStore,
    service: str,
    entities: EntityInput | DatasetVersion,
    *,
    name: str | None = None,
    timestamp_column: str | None = None,
    description: str | None = None,
    memory_limit: str = "1GB",
) -> TrainingSet:
    """Join `service`'s features onto `entities` point-in-time correctly and log the result
    as dataset `name` (default: `<service>-training`)."""
    if not isinstance(service, str) or not service.strip():
        raise ValidationError(
            "training_set needs the name of a feature service (`loopml features list` shows them)"
        )
    service = service.strip().removeprefix("service:")
    check_name("feature service", service)
    store.registry.service(service)  # NotFoundError names it, before any data is read
    target = check_name("dataset", name if name is not None else f"{service}-training")
    rows, parent, column = _entity_rows(store, entities, timestamp_column)
    result = store.get_historical_features(
        rows, service, timestamp_column=column, memory_limit=memory_limit
    )
    version = store.log_training_set(
        result,
        target,
        description=description or f"training set of feature service {service}",
        time_column=column,
        parent=parent,
    )
    return TrainingSet(result.to_pandas(), version, result)


def _entity_rows(
    store: FeatureStore, entities: EntityInput | DatasetVersion, timestamp_column: str | None
) -> tuple[pd.DataFrame | pa.Table | str | Path, str | None, str]:
    """The entity rows to join, the dataset version they came from (if any), and their
    timestamp column (a dataset's own time column unless one is given)."""
    version: DatasetVersion | None = None
    if isinstance(entities, DatasetVersion):
        version = entities
    elif isinstance(entities, str) and entities.startswith("dataset:"):
        version = store.datasets.get(entities)
    if version is None:
        if isinstance(entities, str | Path | pd.DataFrame | pa.Table):
            return entities, None, timestamp_column or DEFAULT_TIMESTAMP
        raise ValidationError(
            "entity rows must be a pandas DataFrame, a pyarrow Table, a Parquet path or a "
            f"dataset reference such as 'dataset:bikes@3', got {type(entities).__name__}"
        )
    column = timestamp_column or version.time_column or DEFAULT_TIMESTAMP
    if column not in version.columns:
        raise ValidationError(
            f"{version.uri} has no timestamp column {column!r}; it has {version.columns} "
            "(pass timestamp_column=...)"
        )
    return store.datasets.load_arrow(version), version.uri, column
