"""Profiles computed by DuckDB agree with pandas on the same data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from loopml.data import profile as profile_module
from loopml.data.profile import QUANTILES, TOP_CATEGORIES, describe


def parquet_of(df: pd.DataFrame, tmp_path: Path, name: str = "data.parquet") -> Path:
    path = tmp_path / name
    df.to_parquet(path, index=False)
    return path


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 500
    price = rng.lognormal(3, 1, n)
    price[rng.choice(n, 40, replace=False)] = np.nan
    return pd.DataFrame(
        {
            "price": price,
            "qty": rng.integers(-50, 50, n),
            "city": pd.Series(rng.choice(list("abcdefghijklmnop"), n, p=_skewed(16))).where(
                rng.random(n) > 0.1
            ),
            "active": rng.random(n) > 0.3,
            "day": pd.date_range("2024-01-01", periods=n, freq="D"),
        }
    )


def _skewed(k: int) -> list[float]:
    weights = np.arange(k, 0, -1, dtype=float) ** 2
    return list(weights / weights.sum())


@pytest.mark.parametrize("column", ["price", "qty"])
def test_numeric_profile_matches_pandas(frame: pd.DataFrame, tmp_path: Path, column: str) -> None:
    _, profile, rows = describe([parquet_of(frame, tmp_path)], "parquet")
    stats, series = profile[column], frame[column]

    assert rows == len(frame)
    assert stats["kind"] == "numeric"
    assert stats["nulls"] == series.isna().sum()
    assert stats["null_fraction"] == pytest.approx(series.isna().mean())
    assert stats["min"] == pytest.approx(series.min())
    assert stats["max"] == pytest.approx(series.max())
    assert stats["mean"] == pytest.approx(series.mean())
    assert stats["std"] == pytest.approx(series.std())  # sample std, as pandas
    assert stats["quantiles_exact"] is True
    for q in QUANTILES:
        assert stats["quantiles"][str(q)] == pytest.approx(series.quantile(q)), q
    assert stats["distinct"] == pytest.approx(series.nunique(), rel=0.05)


def test_categorical_profile_matches_pandas(frame: pd.DataFrame, tmp_path: Path) -> None:
    _, profile, _ = describe([parquet_of(frame, tmp_path)], "parquet")
    stats, series = profile["city"], frame["city"]
    counts = series.value_counts()
    expected_top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]

    assert stats["kind"] == "categorical"
    assert stats["nulls"] == series.isna().sum()
    assert [(t["value"], t["count"]) for t in stats["top"]] == expected_top
    assert len(stats["top"]) == TOP_CATEGORIES < series.nunique()
    assert stats["distinct"] == pytest.approx(series.nunique(), abs=1)


def test_boolean_columns_are_categorical(frame: pd.DataFrame, tmp_path: Path) -> None:
    _, profile, _ = describe([parquet_of(frame, tmp_path)], "parquet")

    top = {t["value"]: t["count"] for t in profile["active"]["top"]}

    assert top == {"true": int(frame["active"].sum()), "false": int((~frame["active"]).sum())}


def test_temporal_profile(frame: pd.DataFrame, tmp_path: Path) -> None:
    _, profile, _ = describe([parquet_of(frame, tmp_path)], "parquet")

    assert profile["day"] == {
        "kind": "temporal",
        "nulls": 0,
        "null_fraction": 0.0,
        "min": frame["day"].min().isoformat(),
        "max": frame["day"].max().isoformat(),
    }


def test_csv_gives_the_same_profile_as_parquet(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    frame.to_csv(csv, index=False)

    _, from_csv, rows = describe([csv], "csv")
    _, from_parquet, _ = describe([parquet_of(frame, tmp_path)], "parquet")

    assert rows == len(frame)
    for column in ("price", "qty"):
        for stat in ("nulls", "min", "max", "mean", "std"):
            assert from_csv[column][stat] == pytest.approx(from_parquet[column][stat])
    assert from_csv["city"]["top"] == from_parquet["city"]["top"]


def test_several_files_form_one_table(frame: pd.DataFrame, tmp_path: Path) -> None:
    paths = [
        parquet_of(frame.iloc[:200], tmp_path, "a.parquet"),
        parquet_of(frame.iloc[200:], tmp_path, "b.parquet"),
    ]

    _, profile, rows = describe(paths, "parquet")

    assert rows == len(frame)
    assert profile["qty"]["mean"] == pytest.approx(frame["qty"].mean())


def test_approximate_quantiles_on_many_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_module, "EXACT_QUANTILE_ROWS", 1000)
    values = pd.Series(np.random.default_rng(1).uniform(0, 100, 20_000))

    _, profile, _ = describe([parquet_of(pd.DataFrame({"v": values}), tmp_path)], "parquet")

    assert profile["v"]["quantiles_exact"] is False
    for q in QUANTILES:
        assert profile["v"]["quantiles"][str(q)] == pytest.approx(values.quantile(q), abs=2.0)


def test_edge_cases_have_no_statistics(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"empty": pd.Series([np.nan, np.nan]), "single": [1.0, np.nan], "text": [None, None]}
    )

    _, profile, _ = describe([parquet_of(df, tmp_path)], "parquet")

    assert profile["empty"]["nulls"] == 2
    assert profile["empty"]["null_fraction"] == 1.0
    assert profile["empty"]["mean"] is None
    assert set(profile["empty"]["quantiles"].values()) == {None}
    assert profile["single"]["mean"] == 1.0
    assert profile["single"]["std"] is None  # undefined for one value
    assert profile["text"]["nulls"] == 2


def test_an_empty_table(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": pd.Series([], dtype="float64"), "s": pd.Series([], dtype=str)})

    schema, profile, rows = describe([parquet_of(df, tmp_path)], "parquet")

    assert rows == 0
    assert [c["name"] for c in schema] == ["x", "s"]
    assert profile["x"]["null_fraction"] == 0.0
    assert profile["x"]["min"] is None
    assert profile["s"]["top"] == []


def test_nested_columns_are_described_without_statistics(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"scores": [[1, 2], [3], None], "point": [{"x": 1.0}, {"x": 2.0}, None], "n": [1, 2, 3]}
    )

    schema, profile, rows = describe([parquet_of(df, tmp_path)], "parquet")

    assert rows == 3
    assert [c["type"] for c in schema][:2] == ["BIGINT[]", "STRUCT(x DOUBLE)"]
    assert profile["scores"] == {"kind": "other", "nulls": 1, "null_fraction": pytest.approx(1 / 3)}
    assert profile["point"]["kind"] == "other"
    assert profile["n"]["mean"] == 2.0


def test_column_names_needing_quotes(tmp_path: Path) -> None:
    df = pd.DataFrame({'odd "name"': [1, 2], "with space": ["a", "b"], "select": [1.5, 2.5]})

    _, profile, _ = describe([parquet_of(df, tmp_path)], "parquet")

    assert profile['odd "name"']["max"] == 2
    assert profile["with space"]["top"][0]["count"] == 1
    assert profile["select"]["mean"] == 2.0


def test_file_names_needing_quotes(tmp_path: Path) -> None:
    path = parquet_of(pd.DataFrame({"x": [1, 2, 3]}), tmp_path, "it's here.parquet")

    _, _, rows = describe([path], "parquet")

    assert rows == 3


@pytest.mark.parametrize(
    ("duck_type", "kind"),
    [
        ("BIGINT", "numeric"),
        ("UBIGINT", "numeric"),
        ("HUGEINT", "numeric"),
        ("DOUBLE", "numeric"),
        ("FLOAT", "numeric"),
        ("DECIMAL(18,3)", "numeric"),
        ("DATE", "temporal"),
        ("TIMESTAMP", "temporal"),
        ("TIMESTAMP WITH TIME ZONE", "temporal"),
        ("TIMESTAMP_NS", "temporal"),
        ("TIME", "temporal"),
        ("VARCHAR", "categorical"),
        ("BOOLEAN", "categorical"),
        ("ENUM('a', 'b')", "categorical"),
        ("INTEGER[]", "other"),
        ("DOUBLE[3]", "other"),
        ("TIMESTAMP[]", "other"),
        ("STRUCT(x DOUBLE)", "other"),
        ("MAP(VARCHAR, INTEGER)", "other"),
        ("BLOB", "other"),
        ("INTERVAL", "other"),
        ("UUID", "other"),
    ],
)
def test_column_kinds(duck_type: str, kind: str) -> None:
    assert profile_module._kind(duck_type) == kind


def test_unreadable_input_raises(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 not really")

    with pytest.raises(duckdb.Error, match=r"garbage\.parquet"):
        describe([garbage], "parquet")
