"""Reading drift sources one column at a time: every kind of source, nulls, types."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.errors import ValidationError
from loopml.monitoring.drift.columns import (
    ColumnSource,
    align_levels,
    detect_kind,
    level_label,
    open_source,
    read_categorical,
    read_numerical,
)

FRAME = pd.DataFrame(
    {
        "x": [3.0, np.nan, 1.0, np.inf, 2.0, -np.inf],
        "n": [1, 2, 3, 4, 5, 6],
        "s": ["a", None, "b", "a", "a", "c"],
        "b": [True, False, True, True, False, True],
    }
)


def _parquet(tmp: Path) -> ColumnSource:
    path = tmp / "frame.parquet"
    FRAME.to_parquet(path)
    return open_source(path)


def _parquet_parts(tmp: Path) -> ColumnSource:
    for i, part in enumerate((FRAME.iloc[:2], FRAME.iloc[2:])):
        part.to_parquet(tmp / f"part-{i}.parquet")
    return open_source(sorted(tmp.glob("*.parquet")))


def _parquet_dir(tmp: Path) -> ColumnSource:
    _parquet_parts(tmp)
    return open_source(tmp)


def _csv(tmp: Path) -> ColumnSource:
    path = tmp / "frame.csv"
    FRAME.to_csv(path, index=False)
    return open_source(str(path))


def _relation(tmp: Path) -> ColumnSource:
    conn = duckdb.connect()
    conn.register("frame", pa.Table.from_pandas(FRAME))
    return open_source(conn.sql('SELECT x, n, s, b AS "b" FROM frame'))


SOURCES: dict[str, Callable[[Path], ColumnSource]] = {
    "pandas": lambda tmp: open_source(FRAME),
    "arrow": lambda tmp: open_source(pa.Table.from_pandas(FRAME)),
    "parquet": _parquet,
    "parquet-list": _parquet_parts,
    "parquet-dir": _parquet_dir,
    "duckdb": _relation,
}


@pytest.mark.parametrize("make", SOURCES.values(), ids=SOURCES.keys())
def test_every_source_reads_the_same_columns(
    make: Callable[[Path], ColumnSource], tmp_path: Path
) -> None:
    source = make(tmp_path)
    assert set(source.names) >= {"x", "n", "s", "b"}
    assert source.row_count() == 6
    x = read_numerical(source, "x")
    assert x.values.tolist() == [1.0, 2.0, 3.0]
    assert (x.nulls, x.infinite) == (3, 2)  # NaN and ±inf are dropped and counted
    assert read_numerical(source, "n").values.tolist() == [1, 2, 3, 4, 5, 6]
    s = read_categorical(source, "s")
    assert (s.counts, s.nulls) == ({"a": 3, "b": 1, "c": 1}, 1)
    assert read_categorical(source, "b").counts == {"True": 4, "False": 2}
    assert detect_kind(source.arrow_type("x")) == "numerical"
    assert detect_kind(source.arrow_type("s")) == "categorical"
    assert detect_kind(source.arrow_type("b")) == "categorical"


def test_csv_sources_read_through_duckdb(tmp_path: Path) -> None:
    source = _csv(tmp_path)
    assert source.row_count() == 6
    assert read_numerical(source, "n").values.tolist() == [1, 2, 3, 4, 5, 6]
    assert read_categorical(source, "s").counts == {"a": 3, "b": 1, "c": 1}


def test_parquet_files_with_different_columns_are_unified(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1.0, 2.0]}), tmp_path / "one.parquet")
    pq.write_table(pa.table({"a": [3.0], "b": ["x"]}), tmp_path / "two.parquet")
    source = open_source(tmp_path)
    assert source.names == ["a", "b"]
    b = read_categorical(source, "b")
    assert (b.counts, b.nulls) == ({"x": 1}, 2)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (42, "must be a Parquet/CSV path"),
        ([], "empty list"),
        ("/nonexistent/file.parquet", "do not exist"),
    ],
)
def test_bad_sources_say_what_is_accepted(bad: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        open_source(bad, "reference")  # type: ignore[arg-type]


def test_other_file_formats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")
    with pytest.raises(ValidationError, match="must all be Parquet"):
        open_source(path)


def test_duplicate_dataframe_columns_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate column names"):
        open_source(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_levels_are_compared_by_their_text_form() -> None:
    ints = open_source(pd.DataFrame({"v": [1, 2, 2]}))
    floats = open_source(pd.DataFrame({"v": [1.0, 2.0, 2.0, np.nan]}))  # ints with a null
    assert read_categorical(ints, "v").counts == read_categorical(floats, "v").counts
    assert [level_label(v) for v in (1, 1.0, "1", 1.5, True, b"x")] == [
        "1",
        "1",
        "1",
        "1.5",
        "True",
        "x",
    ]


def test_mixed_python_types_become_text_levels() -> None:
    source = open_source(pd.DataFrame({"m": [1, "a", 2.5, None, "a", 1.0]}))
    counts = read_categorical(source, "m")
    assert (counts.counts, counts.nulls) == ({"1": 2, "a": 2, "2.5": 1}, 1)
    assert detect_kind(source.arrow_type("m")) == "categorical"


def test_levels_sort_numbers_by_value_then_text() -> None:
    ref = read_categorical(open_source(pd.DataFrame({"v": [10, 2, 2]})), "v")
    cur = read_categorical(open_source(pd.DataFrame({"v": [3, 10]})), "v")
    levels, ref_counts, cur_counts = align_levels(ref, cur)
    assert levels == ["2", "3", "10"]
    assert ref_counts.tolist() == [2, 0, 1]
    assert cur_counts.tolist() == [0, 1, 1]


def test_text_read_as_numbers_counts_what_does_not_parse() -> None:
    source = open_source(pa.table({"t": ["1.5", "x", None, "3"]}))
    values = read_numerical(source, "t")
    assert values.values.tolist() == [1.5, 3.0]
    assert (values.nulls, values.unparsed) == (2, 1)


def test_pandas_kinds() -> None:
    frame = pd.DataFrame(
        {
            "cat": pd.Categorical(["a", "b"]),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "obj_num": pd.Series([1, 2.5], dtype=object),
            "nullable": pd.array([1, None], dtype="Int64"),
        }
    )
    source = open_source(frame)
    kinds = {name: detect_kind(source.arrow_type(name)) for name in source.names}
    assert kinds == {
        "cat": "categorical",
        "when": None,
        "obj_num": "numerical",
        "nullable": "numerical",
    }
    assert read_categorical(source, "cat").counts == {"a": 1, "b": 1}
    assert read_numerical(source, "nullable").values.tolist() == [1.0]
    assert read_numerical(source, "when").values.size == 2  # timestamps read as numbers


def test_all_null_and_empty_columns() -> None:
    source = open_source(
        pa.table({"x": pa.array([None, None], type=pa.float64()), "z": [None, None]})
    )
    assert (read_numerical(source, "x").rows, read_numerical(source, "x").nulls) == (0, 2)
    assert (read_numerical(source, "z").rows, read_numerical(source, "z").nulls) == (0, 2)
    assert (read_categorical(source, "z").rows, read_categorical(source, "z").nulls) == (0, 2)
    empty = open_source(pd.DataFrame({"x": pd.Series([], dtype=float)}))
    assert empty.row_count() == 0
    assert read_numerical(empty, "x").rows == 0
