"""`score_file`: score a Parquet or CSV file with a registered model, as a tracked run.

The run records what was scored and how: params `model` (the exact version), `model_ref`
(as typed, e.g. an alias), `input`, `input_blake3`, `chunk_rows` and `on_invalid`; metrics
`rows`, `invalid_rows`, `chunks`, `seconds` and `rows_per_s`; tags `model`, `output`,
`output_blake3` and (when rows were refused) `invalid_output`. The input is identified by
its hash rather than logged as a dataset, which would copy it.

With `on_invalid="skip"` or `"flag"`, rows the model's signature refuses are written with
their input columns, `input_row` and `invalid_reasons` to a side file, by default beside the
output as `<output stem>.invalid.parquet`; it is written only when a row was refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from loopml.artifacts.hashing import hash_file
from loopml.batch.invalid_rows import OnInvalid, check_on_invalid
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
    invalid_rows: int = 0
    invalid_output: Path | None = None  # set when rows were refused and written aside

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
    on_invalid: OnInvalid = "fail",
    invalid_output: str | Path | None = None,
) -> BatchResult:
    """Predict every row of `input_path` into the Parquet file `output_path` (input columns
    plus `prediction` and `proba_<class>`), `chunk_rows` rows at a time.

    `on_invalid`: `fail` stops at the first row the signature refuses (no output is left);
    `skip` leaves refused rows out of the output, `flag` keeps them without a prediction and
    with their reasons in `invalid_reasons`; both write them to `invalid_output`.
    """
    on_invalid = check_on_invalid(on_invalid)
    source_path, dest = Path(input_path).resolve(), Path(output_path).resolve()
    aside = (
        Path(invalid_output).resolve()
        if invalid_output is not None
        else dest.with_name(f"{dest.stem}.invalid.parquet")
    )
    if source_path == dest:
        raise ValidationError("the output must be a different file from the input")
    if aside in (source_path, dest):
        raise ValidationError(
            f"the invalid-rows file {aside} must be a different file from the input and output"
        )
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
        "on_invalid": on_invalid,
    }
    with client.start_run(experiment, params=params, tags={"model": version.uri}) as run:
        started = time.perf_counter()
        rows = chunks = invalid = 0
        scorer = ChunkScorer(model, on_invalid)
        if on_progress is not None:
            on_progress(ChunkProgress(0, 0, source.total_rows))
        with AtomicParquetWriter(dest) as writer, AtomicParquetWriter(aside) as refused_rows:
            for chunk in source.chunks(chunk_rows):
                scored, refused = scorer.score_rows(chunk)
                if scored.num_rows:
                    writer.write(scored)
                if refused is not None:
                    refused_rows.write(refused)
                    invalid += refused.num_rows
                rows, chunks = rows + chunk.rows, chunks + 1
                if on_progress is not None:
                    on_progress(ChunkProgress(chunks, rows, source.total_rows))
            if rows == 0:
                raise ValidationError(f"{source_path} has no rows to score")
            if not writer.started:  # every row was refused: an empty output still says so
                writer.write(scored)
        seconds = time.perf_counter() - started
        output_hash = hash_file(dest)
        run.log_metrics(
            {
                "rows": rows,
                "invalid_rows": invalid,
                "chunks": chunks,
                "seconds": seconds,
                "rows_per_s": rows / seconds,
            }
        )
        tags = {"output": str(dest), "output_blake3": output_hash}
        if invalid:
            tags["invalid_output"] = str(aside)
        run.set_tags(tags)
    return BatchResult(
        model=version.uri,
        rows=rows,
        chunks=chunks,
        seconds=seconds,
        run_id=run.id,
        output=dest,
        input_blake3=str(params["input_blake3"]),
        output_blake3=output_hash,
        invalid_rows=invalid,
        invalid_output=aside if invalid else None,
    )
