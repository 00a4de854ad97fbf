"""`TableSource`: Parquet and CSV read as fixed-size chunks, with bounded reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.batch import TableSource, read_head
from loopml.batch import source as source_module
from loopml.errors import ValidationError
from loopml.registry.packaging import infer_signature
from tests.batch.conftest import Hours


def test_parquet_chunks_have_the_asked_size_across_row_groups(tmp_path: Path, hours: Hours) -> None:
    path = tmp_path / "hours.parquet"
    pq.write_table(pa.Table.from_pandas(hours.summer), path, row_group_size=300)
    source = TableSource(path)
    chunks = list(source.chunks(1000))
    assert source.total_rows == len(hours.summer)
    assert [c.rows for c in chunks[:-1]] == [1000] * (len(chunks) - 1)
    assert sum(c.rows for c in chunks) == len(hours.summer)
    assert [c.first_row for c in chunks[:3]] == [0, 1000, 2000]
    assert chunks[1].describe() == "chunk 2 (input rows 1000-1999)"
    rebuilt = pa.concat_tables([c.table for c in chunks]).to_pandas()
    pd.testing.assert_frame_equal(rebuilt, hours.summer)


def test_csv_is_streamed_in_blocks_and_float_columns_keep_their_type(
    tmp_path: Path, hours: Hours, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "CSV_BLOCK_BYTES", 4096)  # many blocks
    frame = hours.summer.copy()
    frame.loc[:99, "windspeed"] = 0.0  # the first block sees whole numbers only
    path = tmp_path / "hours.csv"
    frame.to_csv(path, index=False)
    source = TableSource(path, infer_signature(hours.train))
    chunks = list(source.chunks(700))
    assert source.total_rows is None
    assert {c.rows for c in chunks[:-1]} == {700}
    assert all(c.table.schema.field("windspeed").type == pa.float64() for c in chunks)
    assert sum(c.rows for c in chunks) == len(frame)


def test_read_head_reads_the_first_rows(tmp_path: Path, hours: Hours) -> None:
    path = tmp_path / "hours.parquet"
    hours.summer.to_parquet(path)
    head = read_head(path, 50)
    pd.testing.assert_frame_equal(head, hours.summer.head(50))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("hours.xlsx", b"x", "must be a .parquet or .csv file"),
        ("hours.parquet", b"not parquet at all", "not a readable Parquet file"),
    ],
)
def test_unreadable_inputs_are_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=message):
        TableSource(path)


def test_missing_file_and_bad_chunk_size(tmp_path: Path, hours: Hours) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        TableSource(tmp_path / "nope.parquet")
    path = tmp_path / "hours.parquet"
    hours.summer.to_parquet(path)
    with pytest.raises(ValidationError, match="positive number of rows"):
        next(TableSource(path).chunks(0))


def test_a_malformed_csv_row_is_reported_with_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "CSV_BLOCK_BYTES", 1024)
    path = tmp_path / "broken.csv"
    path.write_text("a,b\n" + "1,2\n" * 2000 + "3,4,5\n")
    with pytest.raises(ValidationError, match=r"cannot read .*broken.csv \(after input row 1"):
        list(TableSource(path).chunks(100))
    path.write_text("a,b\n3,4,5\n")
    with pytest.raises(ValidationError, match="not a readable CSV file"):
        list(TableSource(path).chunks(100))
