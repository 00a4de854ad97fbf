"""`TableSource`: a Parquet or CSV file read as a stream of fixed-size Arrow chunks.

Only one chunk (plus one read block) is held at a time, so scoring a file larger than
memory works: Parquet is read batch by batch with `ParquetFile.iter_batches`, CSV with
pyarrow's streaming reader, and both are re-cut to exactly `rows` rows per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loopml.errors import ValidationError
from loopml.registry import Signature

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
CSV_BLOCK_BYTES = 1 << 20
# CSV types are inferred from the first block; pin the ones a later block could contradict
# (a float column whose first block holds only whole numbers, a code such as "007").
_CSV_TYPES = {"float": pa.float64(), "string": pa.string(), "category": pa.string()}


@dataclass(frozen=True)
class Chunk:
    """Rows `first_row` … `first_row + rows - 1` (counted from 0) of the input."""

    number: int  # from 1
    first_row: int
    table: pa.Table

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    def describe(self) -> str:
        return f"chunk {self.number} (input rows {self.first_row}-{self.first_row + self.rows - 1})"


class TableSource:
    """A Parquet or CSV input file; `total_rows` is known up front for Parquet only."""

    def __init__(self, path: Path, signature: Signature | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ValidationError(f"input file {self.path} does not exist")
        suffix = self.path.suffix.lower()
        if suffix not in PARQUET_SUFFIXES + CSV_SUFFIXES:
            raise ValidationError(
                f"cannot read {self.path.name}: batch input must be a .parquet or .csv file"
            )
        self.is_parquet = suffix in PARQUET_SUFFIXES
        self._csv_types: Mapping[str, pa.DataType] = {
            spec.name: _CSV_TYPES[spec.type]
            for spec in (signature.inputs if signature is not None else [])
            if spec.type in _CSV_TYPES
        }
        self.total_rows: int | None = None
        if self.is_parquet:
            self.total_rows = int(self._parquet().metadata.num_rows)

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """The input cut into chunks of `rows` rows (the last one may be shorter)."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValidationError(f"chunk size must be a positive number of rows, got {rows!r}")
        first_row = 0
        for number, table in enumerate(_rechunk(self._batches(rows), rows, self._where), 1):
            yield Chunk(number, first_row, table)
            first_row += table.num_rows

    def _parquet(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise ValidationError(f"{self.path} is not a readable Parquet file: {exc}") from exc

    def _batches(self, rows: int) -> Iterator[pa.RecordBatch]:
        if self.is_parquet:
            yield from self._parquet().iter_batches(batch_size=rows)
            return
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                convert_options=pacsv.ConvertOptions(column_types=dict(self._csv_types)),
            )
        except pa.ArrowException as exc:
            raise ValidationError(f"{self.path} is not a readable CSV file: {exc}") from exc
        yield from reader

    def _where(self, done: int) -> str:
        return f"{self.path} (after input row {done})" if done else str(self.path)


def _rechunk(
    batches: Iterator[pa.RecordBatch], rows: int, where: Callable[[int], str]
) -> Iterator[pa.Table]:
    """Tables of exactly `rows` rows from batches of any size (zero-copy slices)."""
    pending: list[pa.RecordBatch] = []
    held = done = 0
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except pa.ArrowException as exc:  # a malformed block or a type the schema contradicts
            raise ValidationError(f"cannot read {where(done)}: {exc}") from exc
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending = [b for b in rest.to_batches() if b.num_rows]
            held -= rows
            done += rows
    if held:
        yield pa.Table.from_batches(pending)


def read_head(path: Path, rows: int) -> pd.DataFrame:
    """The first `rows` rows of a Parquet or CSV file, without reading the rest."""
    first = next(TableSource(path).chunks(rows), None)
    if first is None:
        raise ValidationError(f"{path} has no rows")
    frame: pd.DataFrame = first.table.to_pandas()
    return frame
