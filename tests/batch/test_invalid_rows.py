"""`on_invalid`: a 26k-row file with one missing value is scored, the bad row set aside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from loopml.batch import score_file
from loopml.batch.invalid_rows import row_problems
from loopml.errors import ValidationError
from loopml.registry import ModelVersion
from loopml.samples import bikeshare_features, load_bikeshare
from loopml.sdk import Client
from tests.batch.conftest import Hours, with_ids

BAD_ROW = 17_321


@pytest.fixture
def year_file(hours: Hours, tmp_path: Path) -> Path:
    """The year's hours three times over (25,935 rows) with one humidity reading lost."""
    year = bikeshare_features(load_bikeshare())
    frame = with_ids(pd.concat([year] * 3, ignore_index=True))
    assert len(frame) == 25_935
    frame.loc[BAD_ROW, "hum"] = None
    path = tmp_path / "hours.parquet"
    frame.to_parquet(path)
    return path


def test_fail_stops_at_the_missing_value_and_says_how_to_go_on(
    client: Client, ridge: ModelVersion, year_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="--on-invalid skip"):
        score_file(client, "bikes/1", year_file, tmp_path / "scored.parquet", chunk_rows=5000)
    assert not (tmp_path / "scored.parquet").exists()
    assert not (tmp_path / "scored.invalid.parquet").exists()


def test_skip_scores_every_other_row_and_writes_the_bad_one_aside(
    client: Client, ridge: ModelVersion, year_file: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "scored.parquet"
    result = score_file(client, "bikes/1", year_file, dest, chunk_rows=5000, on_invalid="skip")
    total = pq.read_metadata(year_file).num_rows
    scored = pd.read_parquet(dest)
    assert len(scored) == total - 1 and BAD_ROW not in set(scored["hour_id"])
    assert scored["prediction"].notna().all()
    assert result.invalid_rows == 1
    assert result.invalid_output == tmp_path / "scored.invalid.parquet"
    [refused] = pd.read_parquet(result.invalid_output).to_dict("records")
    assert refused["input_row"] == BAD_ROW and refused["hour_id"] == BAD_ROW
    assert refused["invalid_reasons"].startswith("hum: missing value")
    assert "the model fails on a missing 'hum'" in refused["invalid_reasons"]
    (run,) = client.search_runs("batch-scoring")
    assert run.metrics["invalid_rows"] == 1.0 and run.params["on_invalid"] == "skip"
    assert run.tags["invalid_output"] == str(result.invalid_output)


def test_flag_keeps_the_bad_row_without_a_prediction(
    client: Client, ridge: ModelVersion, year_file: Path, tmp_path: Path
) -> None:
    dest, aside = tmp_path / "scored.parquet", tmp_path / "refused" / "rows.parquet"
    aside.parent.mkdir()
    result = score_file(
        client, "bikes/1", year_file, dest, chunk_rows=5000, on_invalid="flag",
        invalid_output=aside,
    )  # fmt: skip
    scored = pd.read_parquet(dest)
    assert len(scored) == pq.read_metadata(year_file).num_rows
    bad = scored[scored["invalid_reasons"].notna()]
    assert list(bad["hour_id"]) == [BAD_ROW] and bad["prediction"].isna().all()
    assert scored.drop(index=BAD_ROW)["prediction"].notna().all()
    assert result.invalid_output == aside and len(pd.read_parquet(aside)) == 1


def test_a_clean_file_writes_no_side_file(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source = tmp_path / "summer.parquet"
    hours.summer.to_parquet(source)
    result = score_file(client, "bikes/1", source, tmp_path / "scored.parquet", on_invalid="flag")
    assert result.invalid_rows == 0 and result.invalid_output is None
    assert not (tmp_path / "scored.invalid.parquet").exists()


def test_every_row_and_reason_is_found(hours: Hours, client: Client, ridge: ModelVersion) -> None:
    signature = client.models.load("bikes/1").signature
    assert signature is not None
    frame = hours.summer.head(600).copy()
    frame.loc[[3, 450], "temp"] = None
    frame["hr"] = frame["hr"].astype(object)
    frame.loc[450, "hr"] = "noon"
    problems = row_problems(signature, frame)
    assert sorted(problems) == [3, 450]
    assert len(problems[450]) == 2 and any("expected integer" in p for p in problems[450])


def test_unknown_on_invalid_is_refused(client: Client, ridge: ModelVersion, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="use fail"):
        score_file(client, "bikes/1", tmp_path / "a.csv", tmp_path / "b.parquet", on_invalid="drop")  # type: ignore[arg-type]
