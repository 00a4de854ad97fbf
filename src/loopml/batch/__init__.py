"""Batch scoring: a registered model over a Parquet or CSV file, chunk by chunk, as a run."""

from loopml.batch.predictions import PREDICTION, PROBA_PREFIX, ChunkScorer
from loopml.batch.scoring import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_EXPERIMENT,
    BatchResult,
    ChunkProgress,
    ScoringClient,
    score_file,
)
from loopml.batch.source import Chunk, TableSource, read_head
from loopml.batch.writer import AtomicParquetWriter

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_EXPERIMENT",
    "PREDICTION",
    "PROBA_PREFIX",
    "AtomicParquetWriter",
    "BatchResult",
    "Chunk",
    "ChunkProgress",
    "ChunkScorer",
    "ScoringClient",
    "TableSource",
    "read_head",
    "score_file",
]
