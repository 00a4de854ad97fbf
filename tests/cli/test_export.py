"""`loopml export`: ONNX files checked against the original, and registered on request."""

from __future__ import annotations

import json
from pathlib import Path

from loopml.sdk import Client
from tests.cli.conftest import Train
from tests.cli.helpers import BikeTables, Invoke, field, user_error


def test_export_writes_onnx_and_prints_the_parity(
    cli: Invoke, trained: Train, tmp_path: Path
) -> None:
    trained()
    result = cli("export", "model:bikes/1", "--format", "onnx")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Exported model:bikes/1 to {tmp_path / 'bikes-1.onnx'}")
    assert field(result.stdout, "format").startswith("onnx (opset ")
    assert field(result.stdout, "parity").startswith("max abs diff ")
    assert field(result.stdout, "parity").endswith("on 5 rows")  # the input example
    assert "(tolerance 0.0001)" in field(result.stdout, "relative")
    assert (tmp_path / "bikes-1.onnx").is_file()


def test_export_on_a_sample_file_and_register(
    cli: Invoke, client: Client, trained: Train, bikes: BikeTables, tmp_path: Path
) -> None:
    trained()
    sample = tmp_path / "summer.parquet"
    bikes.summer.to_parquet(sample)

    result = cli(
        "export", "bikes", "--output", str(tmp_path / "b.onnx"), "--sample", str(sample),
        "--sample-rows", "50", "--register", "bikes-onnx", "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_checked"] == 50 and summary["max_rel_diff"] < 1e-4
    assert summary["registered"] == "model:bikes-onnx/1"
    version = client.models.get("bikes-onnx/1")
    assert version.flavor == "onnx"
    prediction = client.models.load(version.uri).predict(bikes.summer.drop(columns=["bikers"]))
    assert len(prediction) == len(bikes.summer)


def test_export_above_the_tolerance_fails_with_exit_2_and_no_file(
    cli: Invoke, trained: Train, tmp_path: Path
) -> None:
    trained()
    result = cli("export", "bikes/1", "--output", "out.onnx", "--tolerance", "1e-15")
    user_error(result, "above the tolerance 1e-15", "nothing was written")
    assert not (tmp_path / "out.onnx").exists()


def test_export_refuses_an_unknown_format(cli: Invoke, trained: Train) -> None:
    trained()
    user_error(cli("export", "bikes/1", "--format", "pmml"), "format 'pmml' is not supported")
