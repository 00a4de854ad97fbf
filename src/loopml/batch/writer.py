"""`AtomicParquetWriter`: chunks go to a hidden file beside the output, renamed at the end.

A failed or interrupted batch therefore never leaves a half-written output behind, and an
existing output is replaced only by a complete one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from loopml.errors import ValidationError


class AtomicParquetWriter:
    """Use as a context manager: on success the file appears at `dest`, on error nothing."""

    def __init__(self, dest: Path) -> None:
        self.dest = Path(dest)
        if not self.dest.parent.is_dir():
            raise ValidationError(f"output folder {self.dest.parent} does not exist")
        self.partial = self.dest.with_name(f".{self.dest.name}.{uuid.uuid4().hex[:8]}.partial")
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        """Append `table`; later tables are cast to the first one's schema."""
        if self._writer is None or self._schema is None:
            self._schema = table.schema.remove_metadata()  # pandas metadata would mislead
            self._writer = pq.ParquetWriter(self.partial, self._schema)
        try:
            table = table.replace_schema_metadata(None).cast(self._schema)
        except (pa.ArrowException, ValueError) as exc:
            raise ValidationError(
                f"a chunk's columns do not match the first chunk's ({exc}); "
                "the input or the model's output types change between chunks"
            ) from exc
        self._writer.write_table(table)

    @property
    def started(self) -> bool:
        return self._writer is not None

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._close()
            if exc_type is None and self.partial.exists():
                os.replace(self.partial, self.dest)
        finally:
            self.partial.unlink(missing_ok=True)
