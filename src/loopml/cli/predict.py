"""`loopml predict`: score a Parquet or CSV file with a registered model, chunk by chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from loopml.batch import DEFAULT_CHUNK_ROWS, DEFAULT_EXPERIMENT, ChunkProgress, score_file
from loopml.batch.invalid_rows import check_on_invalid
from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.render import console, duration, key_value_table, print_json

PREDICT_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml predict model:bikes@champion --input hours.parquet --output scored.parquet\n"
    "  loopml predict bikes/3 --input hours.csv --output scored.parquet --chunk-rows 10000\n"
    "  loopml predict bikes@champion --input hours.csv --output scored.parquet --on-invalid skip"
)


def predict(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(help="model:NAME/VERSION, NAME@ALIAS or NAME (latest).", metavar="REF"),
    ],
    input_path: Annotated[
        Path, typer.Option("--input", help="The rows to score: a .parquet or .csv file.")
    ],
    output_path: Annotated[
        Path,
        typer.Option(
            "--output", help="Parquet file to write: the input columns plus the predictions."
        ),
    ],
    chunk_rows: Annotated[
        int,
        typer.Option("--chunk-rows", min=1, help="Rows read, checked and scored at a time."),
    ] = DEFAULT_CHUNK_ROWS,
    experiment: Annotated[
        str, typer.Option("--experiment", help="Experiment of the run that records the batch.")
    ] = DEFAULT_EXPERIMENT,
    on_invalid: Annotated[
        str,
        typer.Option(
            "--on-invalid",
            help="A row the signature refuses: fail (stop, write nothing), skip (leave it "
            "out) or flag (keep it without a prediction, reasons in invalid_reasons). skip "
            "and flag write refused rows and their reasons to the invalid-rows file.",
        ),
    ] = "fail",
    invalid_output: Annotated[
        Path | None,
        typer.Option(
            "--invalid-output",
            help="Where refused rows go (Parquet); default: OUTPUT's name with "
            ".invalid.parquet beside it.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score every row of a file with a model version and write the predictions to Parquet.

    Each chunk is checked against the model's signature before it is scored. By default the
    first problem stops the batch and no output file is left behind; `--on-invalid skip` or
    `flag` sets refused rows aside in a side file instead. The batch is recorded as a run
    (model, input hash, rows, refused rows, throughput).
    """
    client = client_of(ctx)
    progress = Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=as_json,
    )
    task = progress.add_task("scoring", total=None)

    def advance(done: ChunkProgress) -> None:
        progress.update(task, completed=done.rows_done, total=done.total_rows)

    with progress:
        result = score_file(
            client,
            ref,
            input_path,
            output_path,
            chunk_rows=chunk_rows,
            experiment=experiment,
            on_progress=advance,
            on_invalid=check_on_invalid(on_invalid),
            invalid_output=invalid_output,
        )
    summary = {
        "model": result.model,
        "rows": result.rows,
        "chunks": result.chunks,
        "seconds": round(result.seconds, 3),
        "rows_per_s": round(result.rows_per_s, 1),
        "run": "run:" + result.run_id.removeprefix("run-"),
        "output": str(result.output),
        "output_blake3": result.output_blake3,
        "invalid_rows": result.invalid_rows,
        "invalid_output": None if result.invalid_output is None else str(result.invalid_output),
    }
    if as_json:
        print_json(summary)
        return
    out = console()
    out.print(Text.assemble(("Scored ", "green"), (f"{result.rows:,} rows", "bold")))
    out.print(
        key_value_table(
            None,
            [
                ("model", result.model),
                ("chunks", result.chunks),
                ("time", f"{duration(result.seconds)} ({result.rows_per_s:,.0f} rows/s)"),
                ("run", summary["run"]),
                ("output", summary["output"]),
                ("refused rows", f"{result.invalid_rows:,}"),
                *(
                    [("refused rows file", str(result.invalid_output))]
                    if result.invalid_output
                    else []
                ),
            ],
        )
    )
