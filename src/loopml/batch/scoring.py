"""`score_file`: score a Parquet or CSV file with a registered model, as a tracked run.

The run records what was scored and how: params `model` (the exact version), `model_ref`
(as typed, e.g. an alias), `input`, `input_blake3` and `chunk_rows`; metrics `rows`,
`chunks`, `seconds` and `rows_per_s`; tags `model`, `output` and `output_blake3`. The input
is identified by its hash rather than logged as a dataset, which would copy it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from loopml.artifacts.hashing import hash_file
from loopml.batch.predictions import ChunkScorer
from loopml.batch.source import TableSource
from loopml.batch.writer import AtomicParquetWriter
from loopml.errors import ValidationError
from loopml.registry import RegistryService
from loopml.tracking import Run

DEFAULT_CHUNK_ROWS = 50_000
DEFAULT_EXPERIMENT = "batch-scoring"


class _HasRegistry(Protocol):
    registry: RegistryService


class ScoringClient(Protocol):
    """What `score_file` needs of a client: the registry and `start_run` (the SDK's
    `Client` fits)."""

    @property
    def models(self) -> _HasRegistry: ...

    def start_run(
        self,
        experiment: str = ...,
        name: str | None = ...,
        *,
        params: Mapping[str, Any] | None = ...,
        tags: Mapping[str, Any] | None = ...,
    ) -> Run: ...


@dataclass(frozen=True)
class ChunkProgress:
    """Reported after each chunk is written; `total_rows` is None for CSV input."""

    chunks: int
    rows_done: int
    total_rows: int | None


@dataclass(frozen=True)
class BatchResult:
    """A finished batch: what was scored, by which model, in which run, written where."""

    model: str
    rows: int
    chunks: int
    seconds: float
    run_id: str
    output: Path
    input_blake3: str
    output_blake3: str

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


def score_file(
    client: ScoringClient,
    model_ref: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    experiment: str = DEFAULT_EXPERIMENT,
    on_progress: Callable[[ChunkProgress], None] | None = None,
) -> BatchResult:
    """Predict every row of `input_path` into the Parquet file `output_path` (input columns
    plus `prediction` and `proba_<class>`), `chunk_rows` rows at a time."""
    source_path, dest = Path(input_path).resolve(), Path(output_path).resolve()
    if source_path == dest:
        raise ValidationError("the output must be a different file from the input")
    if not dest.parent.is_dir():
        raise ValidationError(f"output folder {dest.parent} does not exist")
    registry = client.models.registry
    version = registry.get_version(model_ref)
    model = registry.load(version)
    source = TableSource(source_path, model.signature)
    params = {
        "model": version.uri,
        "model_ref": model_ref,
        "input": str(source_path),
        "input_blake3": hash_file(source_path),
        "chunk_rows": chunk_rows,
    }
    with client.start_run(experiment, params=params, tags={"model": version.uri}) as run:
        started = time.perf_counter()
        rows = chunks = 0
        scorer = ChunkScorer(model)
        if on_progress is not None:
            on_progress(ChunkProgress(0, 0, source.total_rows))
        with AtomicParquetWriter(dest) as writer:
            for chunk in source.chunks(chunk_rows):
                writer.write(scorer.score(chunk))
                rows, chunks = rows + chunk.rows, chunks + 1
                if on_progress is not None:
                    on_progress(ChunkProgress(chunks, rows, source.total_rows))
            if rows == 0:
                raise ValidationError(f"{source_path} has no rows to score")
        seconds = time.perf_counter() - started
        output_hash = hash_file(dest)
        run.log_metrics(
            {"rows": rows, "chunks": chunks, "seconds": seconds, "rows_per_s": rows / seconds}
        )
        run.set_tags({"output": str(dest), "output_blake3": output_hash})
    return BatchResult(
        model=version.uri,
        rows=rows,
        chunks=chunks,
        seconds=seconds,
        run_id=run.id,
        output=dest,
        input_blake3=str(params["input_blake3"]),
        output_blake3=output_hash,
    )
