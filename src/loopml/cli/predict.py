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
from loopml.cli.context import client_of
from loopml.cli.render import console, duration, key_value_table, print_json

PREDICT_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml predict model:bikes@champion --input hours.parquet --output scored.parquet\n"
    "  loopml predict bikes/3 --input hours.csv --output scored.parquet --chunk-rows 10000"
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score every row of a file with a model version and write the predictions to Parquet.

    Each chunk is checked against the model's signature before it is scored; the first
    problem stops the batch and no output file is left behind. The batch is recorded as a
    run (model, input hash, rows, throughput).
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
            ],
        )
    )
