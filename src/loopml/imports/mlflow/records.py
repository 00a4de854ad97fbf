"""What an MLflow store holds, as read from either kind of source (database or server).

Times are MLflow's milliseconds; the importer converts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SourceExperiment:
    id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRun:
    id: str
    experiment_id: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    deleted: bool
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metric_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceMetric:
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class SourceArtifact:
    """One file of a run: its path inside the run, and where its bytes are (a local file)
    or None when the source has to download it."""

    path: str
    local: Path | None = None


@dataclass(frozen=True)
class SourceVersion:
    model: str
    version: int
    run_id: str | None
    source: str
    description: str


@dataclass(frozen=True)
class SourceModel:
    name: str
    description: str
    aliases: dict[str, int] = field(default_factory=dict)


class ArtifactsMissing(Exception):
    """A run's artifacts cannot be read; the message says where they were looked for."""


class MlflowSource(Protocol):
    """Read access to an MLflow store, in pages: nothing is read whole into memory."""

    label: str  # the store's identity in the id mapping (no password)

    def experiments(self) -> Iterator[SourceExperiment]: ...

    def count_runs(self) -> int | None: ...

    def runs(self, experiment_id: str) -> Iterator[SourceRun]:
        """Oldest first, so a parent is copied before its children."""
        ...

    def metric_history(self, run: SourceRun, key: str) -> Iterator[list[SourceMetric]]: ...

    def artifacts(self, run: SourceRun) -> Iterator[SourceArtifact]:
        """Every file of the run; raises ArtifactsMissing when its folder is gone."""
        ...

    def download(self, run: SourceRun, artifact: SourceArtifact, target: Path) -> Path: ...

    def models(self) -> Iterator[SourceModel]: ...

    def versions(self, model: str) -> Iterator[SourceVersion]: ...

    def model_files(self, version: SourceVersion, run: SourceRun) -> tuple[str | None, Path | None]:
        """Where a version's files are: a path inside its run's artifacts, or else a local
        folder to copy into the run; (None, None) when they cannot be found."""
        ...

    def close(self) -> None: ...
