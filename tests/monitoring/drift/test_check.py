"""`check_drift`: verdicts, recorded evidence, edge cases and option validation."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.errors import ValidationError
from loopml.monitoring import DriftOptions, DriftResult, check_drift
from loopml.monitoring.drift.histograms import OTHER
from loopml.monitoring.results import ALL_NULL, EMPTY, MISSING, NO_REFERENCE, OK


def make(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, rows),
            "income": rng.lognormal(10, 0.5, rows),
            "city": rng.choice(
                ["paris", "lyon", "nice"], rows, p=[0.5 - 0.3 * shift, 0.3, 0.2 + 0.3 * shift]
            ),
            "member": rng.random(rows) < 0.5,
        }
    )


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make(500, 1), make(400, 2, shift=1.0)


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make(5000, 3), make(4000, 4)


def test_small_reference_uses_hypothesis_tests(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = check_drift(*small)
    tests = {c.column: c.test for c in result.columns}
    assert tests == {"age": "ks", "income": "ks", "city": "chisquare", "member": "z"}
    age = result.column("age")
    assert age.drift is True and age.statistic is not None and age.statistic < 0.05
    assert (age.threshold, age.reference_rows, age.current_rows) == (0.05, 500, 400)
    assert age.kind == "numerical" and result.column("city").kind == "categorical"
    assert result.column("city").drift is True
    assert result.dataset_drift is True and result.status == OK
    assert result.share == pytest.approx(len(result.drifted) / 4)


def test_large_reference_uses_distances(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = check_drift(*large)
    tests = {c.column: (c.test, c.threshold) for c in result.columns}
    assert tests == {
        "age": ("wasserstein", 0.1),
        "income": ("wasserstein", 0.1),
        "city": ("jensenshannon", 0.1),
        "member": ("jensenshannon", 0.1),
    }
    assert result.dataset_drift is False and result.drifted == []
    assert result.reference_rows == 5000 and result.current_rows == 4000
    assert result.column("member").distinct == 2 and result.column("age").distinct == 5000
    assert result.column("age").distinct_union == 9000


def test_dataset_drift_is_a_share_of_the_tested_columns(
    small: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    result = check_drift(*small)
    share = len(result.drifted) / len(result.tested)
    assert check_drift(*small, drift_share=share).dataset_drift is True  # share >= threshold
    assert check_drift(*small, drift_share=min(1.0, share + 0.01)).dataset_drift is (share == 1.0)


def test_results_are_json_ready(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    payload = json.loads(json.dumps(check_drift(*small).to_dict()))
    assert payload["columns"][0]["test"] == "ks"
    assert payload["columns"][0]["histogram"]["edges"]


def test_empty_window(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = check_drift(large[0], large[1].iloc[:0])
    assert result.status == EMPTY and result.dataset_drift is None
    assert {c.status for c in result.columns} == {EMPTY}
    assert all(c.drift is None for c in result.columns)
    assert result.message is not None and "no rows" in result.message


def test_missing_columns_make_a_partial_result(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = large
    result = check_drift(ref, cur.drop(columns=["city"]), columns=["age", "city", "ghost"])
    assert result.status == "partial"
    city, ghost = result.column("city"), result.column("ghost")
    assert (city.status, city.drift) == (MISSING, None)
    assert city.message == "the column is absent from the current window"
    assert ghost.message == "the column is absent from the reference and current window"
    assert result.dataset_drift is False  # decided by the one tested column
    assert result.message is not None and "city (missing)" in result.message


def test_all_null_current_and_reference(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = large[0].copy(), large[1].copy()
    cur["age"] = np.nan
    cur["city"] = None
    ref["income"] = np.inf  # infinite counts as null
    result = check_drift(ref, cur)
    assert result.column("age").status == ALL_NULL and result.column("age").drift is None
    assert result.column("age").current_nulls == 4000
    assert result.column("city").status == ALL_NULL
    assert result.column("income").status == NO_REFERENCE
    assert result.status == "partial" and result.dataset_drift is False


def test_nothing_testable_gives_no_verdict() -> None:
    ref = pd.DataFrame({"x": [np.nan] * 3})
    result = check_drift(ref, pd.DataFrame({"x": [1.0, 2.0]}))
    assert result.dataset_drift is None and result.status == NO_REFERENCE
    assert result.column("x").status == NO_REFERENCE


@pytest.mark.parametrize(("rows", "test"), [(100, "z"), (3000, "jensenshannon")])
def test_constant_columns_get_a_categorical_test(rows: int, test: str) -> None:
    ref = pd.DataFrame({"k": np.full(rows, 7.0)})
    same = check_drift(ref, pd.DataFrame({"k": np.full(50, 7.0)})).column("k")
    assert (same.test, same.drift, same.distinct_union) == (test, False, 1)
    other = check_drift(ref, pd.DataFrame({"k": np.full(50, 8.0)})).column("k")
    assert (other.test, other.drift) == (test, True)


def test_constant_reference_under_forced_distance_tests() -> None:
    ref = pd.DataFrame({"k": np.full(2000, 1.0)})
    cur = pd.DataFrame({"k": np.r_[np.full(1990, 1.0), np.full(10, 2.0)]})
    for test in ("wasserstein", "ks", "psi", "jensenshannon"):
        column = check_drift(ref, cur, tests={"k": test}).column("k")
        assert column.status == OK and np.isfinite(column.statistic or 0.0), test
    wd = check_drift(ref, cur, tests={"k": "wasserstein"}).column("k")
    assert wd.statistic == pytest.approx((10 / 2000) / 0.001)  # std floored at 0.001


def test_infinite_values_are_counted_as_nulls() -> None:
    ref = pd.DataFrame({"x": np.r_[np.arange(2000.0), [np.inf, -np.inf]]})
    cur = pd.DataFrame({"x": np.r_[np.arange(2000.0), [np.nan, np.inf]]})
    column = check_drift(ref, cur).column("x")
    assert (column.reference_nulls, column.current_nulls) == (2, 2)
    assert (column.reference_rows, column.current_rows) == (2000, 2000)
    assert column.statistic == 0.0 and column.drift is False
    assert column.message is not None and "infinite" in column.message


def test_mixed_types_are_compared_as_text_levels() -> None:
    ref = pd.DataFrame({"m": [1, "a", 2.0] * 20})
    cur = pd.DataFrame({"m": ["1", "a", 2] * 20})
    column = check_drift(ref, cur).column("m")
    assert (column.kind, column.test, column.drift) == ("categorical", "chisquare", False)


def test_kinds_can_be_declared(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = small
    result = check_drift(
        ref, cur, columns=["age", "member"], categorical=["age"], numerical=["member"]
    )
    assert result.column("age").kind == "categorical"
    assert (result.column("member").kind, result.column("member").test) == ("numerical", "z")


def test_forced_tests_and_thresholds(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = check_drift(
        *large,
        tests={"*": "psi", "age": "ks"},
        thresholds={"*": 0.2, "age": 0.01},
    )
    assert [(c.test, c.threshold) for c in result.columns] == [
        ("ks", 0.01),
        ("psi", 0.2),
        ("psi", 0.2),
        ("psi", 0.2),
    ]


def test_new_levels_are_reported(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = large[1].copy()
    cur.loc[:99, "city"] = "lille"
    column = check_drift(large[0], cur).column("city")
    assert column.message == "levels absent from the reference: 'lille'"
    assert column.distinct == 3 and column.distinct_union == 4


def test_prediction_column_is_marked(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = check_drift(*large, columns=["age"], prediction_column="income")
    assert [(c.column, c.is_prediction) for c in result.columns] == [
        ("age", False),
        ("income", True),
    ]
    # Reported beside the features, but only the features count towards dataset drift: a
    # drifted prediction next to one undrifted feature is not a drifted dataset.
    reference, current = large
    shifted = current.assign(income=current["income"] * 3)
    both = check_drift(reference, shifted, columns=["age"], prediction_column="income")
    assert both.column("income").drift is True and both.column("age").drift is False
    assert [c.column for c in both.tested] == ["age"] and both.dataset_drift is False


def test_histograms(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = check_drift(*large)
    age = result.column("age").histogram
    assert age is not None and age.edges is not None and len(age.edges) == 26
    assert sum(age.reference) == 5000 and sum(age.current) == 4000
    city = result.column("city").histogram
    assert city is not None and city.categories is not None
    assert sorted(city.categories) == ["lyon", "nice", "paris"]
    assert check_drift(*large, histograms=False).column("age").histogram is None


def test_categorical_histograms_keep_the_top_levels() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"c": rng.choice([f"l{i}" for i in range(40)], 3000)})
    histogram = check_drift(ref, ref.iloc[:500]).column("c").histogram
    assert histogram is not None and histogram.categories is not None
    assert len(histogram.categories) == 21 and histogram.categories[-1] == OTHER
    assert sum(histogram.reference) == 3000 and sum(histogram.current) == 500


def test_two_workers_give_the_same_result(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    one = check_drift(*large, options=DriftOptions(workers=1))
    two = check_drift(*large, options=DriftOptions(workers=2))
    assert one == two


def test_duckdb_relations_with_aliased_columns(large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    conn = duckdb.connect()
    conn.register("ref", pa.Table.from_pandas(large[0]))
    conn.register("log", pa.Table.from_pandas(large[1].add_prefix("input_")))
    current = conn.sql('SELECT "input_age" AS "age", "input_city" AS "city" FROM log')
    reference = conn.sql("SELECT * FROM ref")
    from_relations = check_drift(reference, current, columns=["age", "city"])
    from_frames = check_drift(*large, columns=["age", "city"])
    assert from_relations.columns == from_frames.columns


def test_files(tmp_path: Any, large: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    large[0].to_parquet(tmp_path / "ref.parquet")
    large[1].to_csv(tmp_path / "cur.csv", index=False)
    result = check_drift(tmp_path / "ref.parquet", str(tmp_path / "cur.csv"))
    expected = check_drift(*large)
    assert [(c.test, c.drift) for c in result.columns] == [
        (c.test, c.drift) for c in expected.columns
    ]
    assert result.column("age").statistic == pytest.approx(expected.column("age").statistic)


def test_unsupported_columns_are_skipped_and_named() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0], "when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    result = check_drift(ref, ref)
    assert [c.column for c in result.columns] == ["x"]
    assert result.message is not None and "when (timestamp" in result.message
    declared = check_drift(ref, ref, numerical=["when"])
    assert declared.column("when").kind == "numerical"


def test_options_and_keyword_overrides(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    options = DriftOptions(tests={"*": "psi"}, drift_share=1.0)
    result = check_drift(*small, columns=["age"], options=options)
    assert [c.column for c in result.columns] == ["age"] and result.drift_share == 1.0
    assert check_drift(*small, options=options, drift_share=0.25).drift_share == 0.25
    assert replace(options, histograms=False).histograms is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tests": {"age": "kolmogorov"}}, "unknown drift test 'kolmogorov'"),
        ({"tests": {"city": "ks"}}, "does not apply to the categorical column 'city'"),
        ({"tests": {"*": "wasserstein"}}, "does not apply to the categorical column"),
        ({"tests": {"nope": "ks"}}, "name columns \\['nope'\\]"),
        ({"thresholds": {"age": -0.1}}, "finite number > 0"),
        ({"thresholds": {"age": float("nan")}}, "finite number > 0"),
        ({"thresholds": {"age": True}}, "finite number > 0"),
        ({"thresholds": {"age": 2.0}, "tests": {"age": "ks"}}, "significance level"),
        ({"thresholds": {"age": 2.0}}, "significance level"),  # the default test is KS here
        ({"drift_share": 0.0}, "drift_share must be a number in \\(0, 1\\]"),
        ({"drift_share": 1.5}, "drift_share"),
        ({"columns": "age"}, "list of column names"),
        ({"numerical": ["age"], "categorical": ["age"]}, "both numerical and categorical"),
        ({"tests": {"age": "chisquare"}, "numerical": ["age"]}, "declare the column categorical"),
        ({"columns": []}, "no column to check"),
    ],
)
def test_invalid_options_say_what_to_fix(
    kwargs: dict[str, Any], message: str, small: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    with pytest.raises(ValidationError, match=message):
        check_drift(*small, **kwargs)


def test_requested_columns_of_unsupported_type_are_refused() -> None:
    ref = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(ValidationError, match="declare it numerical"):
        check_drift(ref, ref, columns=["when"])


def test_drift_result_helpers(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result: DriftResult = check_drift(*small)
    with pytest.raises(KeyError):
        result.column("nope")
    assert result.tested == result.columns
