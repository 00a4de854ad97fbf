"""`loopml predict`: a registered model over a file, with a summary and a recorded run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from loopml.sdk import Client
from tests.cli.conftest import Train
from tests.cli.helpers import BikeTables, Invoke, field, user_error


def test_predict_scores_a_parquet_file_and_prints_a_summary(
    cli: Invoke, client: Client, trained: Train, bikes: BikeTables, tmp_path: Path
) -> None:
    trained()
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    bikes.summer.to_parquet(source)

    result = cli(
        "predict", "model:bikes/1", "--input", str(source), "--output", str(dest),
        "--chunk-rows", "500",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    rows = len(bikes.summer)
    assert result.stdout.startswith(f"Scored {rows:,} rows")
    assert field(result.stdout, "model") == "model:bikes/1"
    assert field(result.stdout, "chunks") == "5"
    assert field(result.stdout, "output") == str(dest.resolve())
    scored = pd.read_parquet(dest)
    expected = client.models.load("bikes/1").predict(bikes.summer.drop(columns=["bikers"]))
    np.testing.assert_allclose(scored["prediction"], expected)
    run = client.get_run("run-" + field(result.stdout, "run").removeprefix("run:"))
    assert run.experiment == "batch-scoring" and run.metrics["rows"] == rows


def test_predict_reads_csv_and_prints_json(
    cli: Invoke, client: Client, trained: Train, bikes: BikeTables, tmp_path: Path
) -> None:
    trained()
    source, dest = tmp_path / "summer.csv", tmp_path / "scored.parquet"
    bikes.summer.to_csv(source, index=False)

    result = cli(
        "predict", "bikes", "--input", str(source), "--output", str(dest),
        "--experiment", "nightly", "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == len(bikes.summer) and summary["chunks"] == 1
    assert summary["model"] == "model:bikes/1"
    assert client.search_runs("nightly")[0].params["input"] == str(source.resolve())


def test_predict_with_a_missing_column_is_one_error_line_and_no_file(
    cli: Invoke, trained: Train, bikes: BikeTables, tmp_path: Path
) -> None:
    trained()
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    bikes.summer.drop(columns=["temp"]).to_parquet(source)

    result = cli("predict", "bikes/1", "--input", str(source), "--output", str(dest))

    user_error(result, "chunk 1 (input rows 0-", "missing column(s) 'temp'")
    assert not dest.exists()


def test_predict_with_an_unknown_model_or_bad_chunk_size(
    cli: Invoke, trained: Train, bikes: BikeTables, tmp_path: Path
) -> None:
    source = tmp_path / "summer.parquet"
    bikes.summer.to_parquet(source)
    out = str(tmp_path / "scored.parquet")
    user_error(cli("predict", "nope/1", "--input", str(source), "--output", out), "nope")
    refused = cli("predict", "nope/1", "--input", str(source), "--output", out, "--chunk-rows", "0")
    assert refused.exit_code == 2


def test_predict_on_invalid_skip_writes_the_refused_row_beside_the_output(
    cli: Invoke, trained: Train, bikes: BikeTables, tmp_path: Path
) -> None:
    trained()
    source, dest = tmp_path / "summer.parquet", tmp_path / "scored.parquet"
    summer = bikes.summer.drop(columns=["bikers"])
    summer.loc[700, "hum"] = None
    summer.to_parquet(source)

    failed = cli("predict", "bikes/1", "--input", str(source), "--output", str(dest))
    user_error(failed, "missing value at row 700", "--on-invalid skip")

    result = cli(
        "predict", "bikes/1", "--input", str(source), "--output", str(dest),
        "--on-invalid", "skip",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    aside = tmp_path / "scored.invalid.parquet"
    assert field(result.stdout, "refused rows") == "1"
    assert field(result.stdout, "refused rows file") == str(aside.resolve())
    assert len(pd.read_parquet(dest)) == len(summer) - 1
    [refused] = pd.read_parquet(aside).to_dict("records")
    assert refused["input_row"] == 700 and "hum: missing value" in refused["invalid_reasons"]

    bad = cli(
        "predict", "bikes/1", "--input", str(source), "--output", str(dest),
        "--on-invalid", "drop",
    )  # fmt: skip
    user_error(bad, "on_invalid 'drop' is unknown")
