"""`score_file` on the bike-sharing hours: chunked, validated, atomic, recorded as a run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.artifacts.hashing import hash_file
from loopml.batch import ChunkProgress, score_file
from loopml.errors import ValidationError
from loopml.registry import ModelVersion
from loopml.sdk import Client
from tests.batch.conftest import Hours, with_ids


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_scores_a_parquet_file_in_chunks_as_a_run(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    with_ids(hours.summer).to_parquet(source)
    seen: list[ChunkProgress] = []

    result = score_file(
        client, "model:bikes/1", source, dest, chunk_rows=500, on_progress=seen.append
    )

    rows = len(hours.summer)
    assert (result.rows, result.chunks) == (rows, math.ceil(rows / 500))
    assert result.output == dest.resolve() and result.model == "model:bikes/1"
    scored = pd.read_parquet(dest)
    assert list(scored.columns) == [*hours.summer.columns, "hour_id", "prediction"]
    assert scored["hour_id"].tolist() == list(range(rows))
    expected = client.models.load("bikes/1").predict(hours.summer)
    np.testing.assert_allclose(scored["prediction"], expected)
    assert [p.rows_done for p in seen][:3] == [0, 500, 1000] and seen[-1].rows_done == rows
    assert {p.total_rows for p in seen} == {rows}

    run = client.get_run(result.run_id)
    assert run.experiment == "batch-scoring" and run.status == "FINISHED"
    assert run.params["model"] == "model:bikes/1"
    assert run.params["chunk_rows"] == "500"
    assert run.params["input"] == str(source.resolve())
    assert run.params["input_blake3"] == hash_file(source) == result.input_blake3
    assert run.tags["model"] == "model:bikes/1"
    assert run.tags["output_blake3"] == hash_file(dest) == result.output_blake3
    assert run.metrics["rows"] == rows and run.metrics["chunks"] == result.chunks
    assert run.metrics["rows_per_s"] > 0 and run.metrics["seconds"] > 0
    assert _files(tmp_path) == {"summer.parquet", "scored.parquet", "ws"}


def test_csv_input_and_an_alias(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    client.models.registry.set_alias("bikes", "staging", 1)
    source, dest = tmp_path / "summer.csv", tmp_path / "scored.parquet"
    hours.summer.to_csv(source, index=False)
    seen: list[ChunkProgress] = []

    result = score_file(
        client, "bikes@staging", source, dest, chunk_rows=1000, on_progress=seen.append
    )

    scored = pd.read_parquet(dest)
    expected = client.models.load("bikes/1").predict(hours.summer)
    np.testing.assert_allclose(scored["prediction"], expected)
    assert result.chunks == math.ceil(len(hours.summer) / 1000)
    assert {p.total_rows for p in seen} == {None}  # a CSV's length is unknown up front
    run = client.get_run(result.run_id)
    assert (run.params["model"], run.params["model_ref"]) == ("model:bikes/1", "bikes@staging")


def test_a_classifier_adds_one_probability_column_per_class(
    client: Client, busy: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    hours.summer.to_parquet(source)
    score_file(client, "busy", source, dest, chunk_rows=2000, experiment="busy-scoring")
    scored = pd.read_parquet(dest)
    assert list(scored.columns[-3:]) == ["prediction", "proba_0", "proba_1"]
    np.testing.assert_allclose(scored["proba_0"] + scored["proba_1"], 1.0)
    assert set(scored["prediction"]) <= {0, 1}
    assert client.search_runs("busy-scoring")[0].status == "FINISHED"


def test_a_missing_column_fails_clearly_and_writes_nothing(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    hours.summer.drop(columns=["temp"]).to_parquet(source)
    with pytest.raises(ValidationError) as caught:
        score_file(client, "bikes/1", source, dest, chunk_rows=1000)
    message = str(caught.value)
    assert message.startswith("chunk 1 (input rows 0-999): missing column(s) 'temp'")
    assert not dest.exists()
    assert _files(tmp_path) == {"summer.parquet", "ws"}
    (run,) = client.search_runs("batch-scoring")
    assert run.status == "FAILED" and "missing column" in (run.error or "")


def test_a_bad_value_in_a_later_chunk_names_the_chunk_and_keeps_the_old_output(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    broken = hours.summer.copy()
    broken.loc[1250, "temp"] = None
    broken.to_parquet(source)
    dest.write_bytes(b"yesterday's scores")
    with pytest.raises(ValidationError) as caught:
        score_file(client, "bikes/1", source, dest, chunk_rows=500)
    assert str(caught.value).startswith(
        "chunk 3 (input rows 1000-1499): column 'temp': missing value at row 250"
    )
    assert dest.read_bytes() == b"yesterday's scores"  # two chunks were written, then dropped
    assert _files(tmp_path) == {"summer.parquet", "scored.parquet", "ws"}


def test_refusals_before_any_run_starts(
    client: Client, ridge: ModelVersion, hours: Hours, tmp_path: Path
) -> None:
    source = tmp_path / "summer.parquet"
    hours.summer.to_parquet(source)
    with pytest.raises(ValidationError, match="different file from the input"):
        score_file(client, "bikes/1", source, source)
    with pytest.raises(ValidationError, match="does not exist"):
        score_file(client, "bikes/1", tmp_path / "nope.csv", tmp_path / "out.parquet")
    with pytest.raises(ValidationError, match="output folder"):
        score_file(client, "bikes/1", source, tmp_path / "missing" / "out.parquet")
    assert "batch-scoring" not in {e["name"] for e in client.list_experiments()}
