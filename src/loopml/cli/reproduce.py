"""`loopml reproduce`: train a model version again from its record and compare."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from loopml.cli.context import workspace_client_of as client_of
from loopml.cli.render import console, key_value_table, print_json

REPRODUCE_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml reproduce bikes@champion\n"
    "  loopml reproduce model:bikes/3 --tolerance 1e-9 --json\n"
    "  loopml reproduce model:bikes/3 --repo ~/src/bikes --keep"
)
DIFFERS_EXIT = 1


def reproduce(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(help="model:NAME/VERSION, NAME@ALIAS or NAME (latest).", metavar="REF"),
    ],
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="A clone of the repository that trained it (default: the recorded location).",
            show_default=False,
        ),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Largest prediction difference still accepted.")
    ] = 1e-6,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temporary worktree (its path is printed).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-run the training of REF exactly as recorded and compare the predictions.

    The run's commit plus its uncommitted diff, its entry point and arguments, and the
    dataset versions it read are used in a temporary git worktree; the new model's
    predictions are compared with the registered version's on the original training data.
    Exits 1 unless they are identical or within --tolerance."""
    client = client_of(ctx)
    out = console()
    with out.status(f"reproducing {ref} (checkout, re-run, compare)"):
        result = client.models.reproduce(ref, repository=repo, tolerance=tolerance, keep=keep)
    if as_json:
        print_json(result.to_dict())
    else:
        table = key_value_table(
            None,
            [
                ("version", result.version),
                ("original run", result.original_run),
                ("commit", result.commit or "none"),
                ("command", " ".join(result.command)),
                ("datasets", ", ".join(result.datasets) or "none recorded"),
                ("new run", result.new_run or "none"),
                ("exit code", str(result.returncode)),
                ("compared on", result.compared_on or "nothing"),
                ("compared rows", f"{result.rows:,}"),
                (
                    "largest difference",
                    "n/a" if result.max_abs_diff is None else f"{result.max_abs_diff:.3g}",
                ),
                (
                    "equal predictions",
                    "n/a" if result.equal_share is None else f"{result.equal_share:.2%}",
                ),
                ("took", f"{result.seconds:.1f} s"),
            ],
        )
        out.print(table)
        for note in result.notes:
            out.print(f"  {note}")
        if result.verdict is None and result.output_tail:
            out.print(Text(result.output_tail, style="dim"))
        verdict = result.verdict or "did not finish"
        style = "green" if result.ok else "red"
        out.print(Text(f"{result.version}: {verdict}", style=f"bold {style}"))
    if not result.ok:
        raise typer.Exit(DIFFERS_EXIT)
