"""`loopml replay`: a candidate scored on a deployment's logged traffic beside the stable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from loopml.cli.context import workspace_client_of
from loopml.cli.render import NONE, console, key_value_table, print_json

REPLAY_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  loopml replay model:bikes/8 --deployment bikes-api --window 7d\n"
    "  loopml replay bikes/8 --deployment bikes-api --window 2026-12-01..2026-12-08 "
    "--metric mae --max-drop 0.02 --json"
)
FAILED_EXIT = 1


def replay(
    ctx: typer.Context,
    candidate: Annotated[
        str,
        typer.Argument(
            help="The version to try: model:NAME/VERSION or NAME@ALIAS.", metavar="CANDIDATE"
        ),
    ],
    deployment: Annotated[
        str, typer.Option("--deployment", "-d", help="Whose logged requests to replay.")
    ],
    window: Annotated[
        str,
        typer.Option(
            "--window", help="7d (the last 7 days), or SINCE..UNTIL (epoch seconds or ISO dates)."
        ),
    ] = "7d",
    stable: Annotated[
        str | None,
        typer.Option(
            "--stable", help="Compare with this version (default: the deployment's main route)."
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="The verdict's metric (default rmse, or accuracy for classifiers)."
        ),
    ] = None,
    max_drop: Annotated[
        float,
        typer.Option(
            "--max-drop",
            help="Margin: relative for error metrics, in the metric's units for scores.",
        ),
    ] = 0.05,
    min_labelled: Annotated[
        int, typer.Option("--min-labelled", help="Labelled rows needed for a verdict.")
    ] = 30,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="Regression outputs agree within this fraction of the stable's."
        ),
    ] = 0.01,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Only print the report; store no evaluation.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score the deployment's logged requests of a window with CANDIDATE and with the stable
    version, compare their outputs and, where feedback exists, their quality; store the
    report as an evaluation of CANDIDATE (a rollout plan with require_replay needs a passing
    one). Reads the log a page at a time. Exits 1 when the verdict is a failure."""
    client = workspace_client_of(ctx)
    out = console()
    with out.status(f"replaying {deployment}'s requests ({window}) with {candidate}"):
        report = client.replay(
            candidate,
            deployment,
            window,
            stable=stable,
            store=not no_store,
            metric=metric,
            max_drop=max_drop,
            min_labelled=min_labelled,
            tolerance=tolerance,
        )
    if as_json:
        print_json(report)
    else:
        out.print(
            key_value_table(f"replay of {report['candidate']} on {deployment}", _rows(report))
        )
        verdict = report["verdict"]
        style = {True: "green", False: "red"}.get(verdict["passed"], "yellow")
        word = {True: "passed", False: "failed"}.get(verdict["passed"], "no verdict")
        out.print(Text.assemble((f"{word}: ", f"bold {style}"), verdict["reason"]))
    if report["verdict"]["passed"] is False:
        raise typer.Exit(FAILED_EXIT)


def _rows(report: dict[str, Any]) -> list[tuple[str, Any]]:
    window = report["window"]
    outputs = report["outputs"]
    rows: list[tuple[str, Any]] = [
        ("stable", report["stable"]),
        ("window", f"{_when(window['since'])} → {_when(window['until'])}"),
        ("requests replayed", f"{report['rows']:,} rows in {report['pages']} page(s)"),
        ("task", report["task"] or NONE),
    ]
    tolerance = outputs.get("tolerance")
    within = "" if tolerance is None else f" (within {tolerance:.0%})"
    rows.append((f"agreement{within}", _pc(outputs.get("agreement_rate"))))
    if "flip_rate" in outputs:
        rows.append(("label flips", _pc(outputs["flip_rate"])))
    if "mean_abs_diff" in outputs:
        rows.append(("mean |difference|", f"{outputs['mean_abs_diff']:.4g}"))
        rows.append(("max |difference|", f"{outputs['max_abs_diff']:.4g}"))
    rows.append(("stable reproduced", _pc(report.get("stable_reproduced"))))
    quality = report.get("quality") or {}
    rows.append(("labelled rows", quality.get("labelled", 0)))
    for side in ("candidate", "stable"):
        metrics = quality.get(side)
        if metrics:
            rows.append(
                (f"{side} quality", ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())))
            )
    if report.get("evaluation_id"):
        rows.append(("stored as", report["evaluation_id"]))
    return rows


def _pc(value: float | None) -> str:
    return NONE if value is None else f"{value:.2%}"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
