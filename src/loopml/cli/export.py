"""`loopml export`: a model version as an ONNX file, checked against the original."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from loopml.batch import read_head
from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.render import console, human_size, key_value_table, print_json
from loopml.registry.export import DEFAULT_TOLERANCE, export_version, register_onnx

EXPORT_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml export model:bikes/3 --format onnx\n"
    "  loopml export bikes@champion --output bikes.onnx --sample hours.parquet\n"
    "  loopml export model:bikes/3 --register bikes-onnx"
)
EXPORT_EXPERIMENT = "model-export"


def export(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(help="model:NAME/VERSION, NAME@ALIAS or NAME (latest).", metavar="REF"),
    ],
    fmt: Annotated[str, typer.Option("--format", help="Export format.")] = "onnx",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="File to write (default: NAME-VERSION.onnx in the current folder).",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option(
            "--sample",
            help="Parquet or CSV rows to check the export on (default: the version's input "
            "example).",
            show_default=False,
        ),
    ] = None,
    sample_rows: Annotated[
        int, typer.Option("--sample-rows", min=1, help="Rows of --sample to check on.")
    ] = 200,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            help="Largest difference allowed, relative to the largest prediction (at least 1).",
        ),
    ] = DEFAULT_TOLERANCE,
    register: Annotated[
        str | None,
        typer.Option(
            "--register",
            help="Also register the ONNX model as the next version of this model name.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Convert a model version to ONNX and prove the copy predicts the same.

    Takes scikit-learn, XGBoost and LightGBM models. The ONNX graph is compared with the
    original on sample rows; when the largest difference exceeds the tolerance the command
    fails and writes nothing.
    """
    client = client_of(ctx)
    rows = read_head(sample, sample_rows) if sample is not None else None
    result = export_version(
        client.models.registry,
        ref,
        output if output is not None else Path.cwd(),
        fmt=fmt,
        sample=rows,
        tolerance=tolerance,
    )
    registered = None
    if register is not None:
        params = {"source_model": result.source, "format": result.fmt}
        with client.start_run(EXPORT_EXPERIMENT, params=params) as run:
            registered = register_onnx(run, result, register).uri
    size = result.path.stat().st_size
    summary = {
        "source": result.source,
        "format": result.fmt,
        "path": str(result.path),
        "size": size,
        "onnx_opset": result.onnx_opset,
        "rows_checked": result.rows_checked,
        "max_abs_diff": result.max_abs_diff,
        "max_rel_diff": result.max_rel_diff,
        "tolerance": result.tolerance,
        "registered": registered,
    }
    if as_json:
        print_json(summary)
        return
    out = console()
    out.print(Text.assemble(("Exported ", "green"), (result.source, "bold"), f" to {result.path}"))
    rows_out: list[tuple[str, str]] = [
        ("format", f"{result.fmt} (opset {result.onnx_opset})"),
        ("size", human_size(size)),
        ("parity", f"max abs diff {result.max_abs_diff:.3g} on {result.rows_checked} rows"),
        ("relative", f"{result.max_rel_diff:.3g} (tolerance {result.tolerance:g})"),
    ]
    if registered is not None:
        rows_out.append(("registered", registered))
    out.print(key_value_table(None, rows_out))
