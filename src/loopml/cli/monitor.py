"""`loopml monitor …`: declare monitors, run them, read their results, reports and alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from loopml.cli.context import operations_of, workspace_client_of
from loopml.cli.monitor_alerts import (
    ACKNOWLEDGE_EPILOG,
    RESOLVE_EPILOG,
    acknowledge,
    resolve,
)
from loopml.cli.monitor_lists import ALERTS_EPILOG, RESULTS_EPILOG, alerts, results
from loopml.cli.monitor_views import (
    alerts_table,
    columns_table,
    latency_table,
    monitor_info,
    monitors_table,
    performance_text,
    runs_table,
)
from loopml.cli.render import console, print_json
from loopml.errors import ValidationError

monitor_app = typer.Typer(
    help="Watch deployments (or successive dataset versions) for data drift, prediction drift, "
    "accuracy and latency; alert when rules fire.",
    no_args_is_help=True,
)

NAME_HELP = "The monitor's name."
JSON_HELP = "Print JSON instead of tables."


def _epilog(*examples: str) -> str:
    return "[bold]Examples[/bold]\n\n" + "\n".join(f"  {e}" for e in examples)


def _assignments(values: list[str] | None, what: str) -> dict[str, str]:
    """`col=value` options (`*=value` for every column)."""
    parsed: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValidationError(f"{what} {item!r} must look like COLUMN=VALUE (or *=VALUE)")
        parsed[key.strip()] = value.strip()
    return parsed


def _thresholds(values: list[str] | None) -> dict[str, float]:
    parsed = {}
    for key, value in _assignments(values, "--threshold").items():
        try:
            parsed[key] = float(value)
        except ValueError as exc:
            raise ValidationError(
                f"--threshold {key}={value}: the threshold must be a number"
            ) from exc
    return parsed


@monitor_app.command(
    "create",
    epilog=_epilog(
        "loopml monitor create bikes-drift deployment:bikes-api --window '720 rows' "
        "--alert dataset_drift --alert column_drift:temp --alert metric_below:r2:0.6",
        "loopml monitor create nightly dataset:bikes --reference dataset:bikes@1 --schedule 1d",
        "loopml monitor create demand-features --feature-view weekly_demand --window 7d "
        "--alert dataset_drift --max-behind 1h --max-age 1d --schedule 15m",
    ),
)
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    source: Annotated[
        str | None,
        typer.Argument(
            help="deployment:NAME (its prediction log), dataset:NAME (each new "
            "version is a window) or feature_view:NAME (windows of the view's rows by event "
            "time, and the freshness of its online values).",
            metavar="[SOURCE]",
            show_default=False,
        ),
    ] = None,
    feature_view: Annotated[
        str | None,
        typer.Option(
            "--feature-view",
            help="Watch this feature view (the same as SOURCE feature_view:NAME).",
            metavar="VIEW",
            show_default=False,
        ),
    ] = None,
    max_lag: Annotated[
        str | None,
        typer.Option(
            "--max-lag",
            help="Feature views: alert when the newest online value is older than this (e.g. 2h).",
            show_default=False,
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            help="Feature views: alert when the last materialization ended longer ago than "
            "this (e.g. 1d).",
            show_default=False,
        ),
    ] = None,
    max_behind: Annotated[
        str | None,
        typer.Option(
            "--max-behind",
            help="Feature views: alert when the source holds data newer than the online "
            "values by more than this (e.g. 1h; 0 for any).",
            show_default=False,
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="dataset:NAME@VERSION to compare with (default: the "
            "deployed model's training data, through lineage; for a feature view, its "
            "source's version now).",
            show_default=False,
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Comma-separated columns (default: the model's inputs that the reference holds).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="'N rows' or a duration such as 15m, 1h, 1d.")
    ] = "1000 rows",
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="Run every this long (e.g. 1h) from `loopml monitor run --due` or the controller.",
            show_default=False,
        ),
    ] = None,
    label_delay: Annotated[
        str | None,
        typer.Option(
            "--label-delay",
            help="Evaluate a window only once its newest prediction is this old (e.g. 1d), so "
            "that late ground truth counts.",
            show_default=False,
        ),
    ] = None,
    test: Annotated[
        list[str] | None,
        typer.Option(
            "--test",
            help="COLUMN=TEST (or *=TEST): ks, wasserstein, psi, "
            "jensenshannon, chisquare, z. Repeatable.",
            show_default=False,
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold", help="COLUMN=NUMBER (or *=NUMBER). Repeatable.", show_default=False
        ),
    ] = None,
    drift_share: Annotated[
        float,
        typer.Option(
            "--drift-share", help="Dataset drift when this share of tested columns drift."
        ),
    ] = 0.5,
    task: Annotated[
        str | None,
        typer.Option(
            "--task", help="classification or regression (default: inferred).", show_default=False
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="The reference's label column, for label drift (dataset sources: also for "
            "quality). Default for deployments: the one reference column that is not a model "
            "input.",
            show_default=False,
        ),
    ] = None,
    prediction: Annotated[
        str | None,
        typer.Option(
            "--prediction", help="Dataset sources: the prediction column.", show_default=False
        ),
    ] = None,
    alert: Annotated[
        list[str] | None,
        typer.Option(
            "--alert",
            help="A rule: dataset_drift, column_drift:COLUMN, label_drift, "
            "metric_below:METRIC:VALUE, metric_above:METRIC:VALUE, "
            "latency_above:p99:MS, error_rate_above:SHARE, "
            "freshness_above:lag|age|behind:DURATION. Repeatable.",
            show_default=False,
        ),
    ] = None,
    sink: Annotated[
        list[str] | None,
        typer.Option(
            "--sink",
            help="Where alerts go besides the store: log, or webhook:URL. Repeatable.",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Redefine an existing monitor (its results are kept).")
    ] = False,
    calibrate: Annotated[
        str,
        typer.Option(
            "--calibrate",
            help="reference: thresholds from the reference's own windows of the monitor's "
            "size; fixed: the tests' thresholds (p 0.05, distance 0.1).",
        ),
    ] = "reference",
    false_alarm_rate: Annotated[
        float,
        typer.Option(
            "--false-alarm-rate",
            help="Calibrated thresholds flag this share of the reference's own windows.",
        ),
    ] = 0.05,
    seasonal: Annotated[
        str | None,
        typer.Option(
            "--seasonal",
            help="month, dayofweek or hour: compare a window with the same period of the "
            "reference (needs its time column).",
            show_default=False,
        ),
    ] = None,
    resolve_after: Annotated[
        int,
        typer.Option(
            "--resolve-after", help="An alert resolves after this many clean windows in a row."
        ),
    ] = 2,
    min_class_rows: Annotated[
        int,
        typer.Option(
            "--min-class-rows",
            help="Labelled rows each class needs in a window before quality metrics count.",
        ),
    ] = 30,
    time_basis: Annotated[
        str,
        typer.Option(
            "--time-basis",
            help="arrival: cut a deployment's windows on when requests arrived; event: on "
            "the event time clients sent (replays and backfills land in their own period).",
            metavar="arrival|event",
        ),
    ] = "arrival",
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Estimate performance from the predictions alone (CBPE for classifiers, "
            "DLE for regressors), for alerts before labels arrive.",
        ),
    ] = False,
    estimate_reference: Annotated[
        str | None,
        typer.Option(
            "--estimate-reference",
            help="Labelled data the model did not train on, to fit the estimator "
            "(default: the monitor's reference).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Declare a monitor; its source, reference and options are checked now."""
    monitor = operations_of(ctx).monitors.create(
        name,
        source,
        feature_view=feature_view,
        max_lag=max_lag,
        max_age=max_age,
        max_behind=max_behind,
        reference=reference,
        columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        window=window,
        schedule=schedule,
        label_delay=label_delay,
        tests=_assignments(test, "--test"),
        thresholds=_thresholds(threshold),
        drift_share=drift_share,
        task=task,
        target=target,
        prediction=prediction,
        rules=list(alert or []),
        sinks=list(sink or []),
        replace=replace,
        calibrate=calibrate,
        false_alarm_rate=false_alarm_rate,
        seasonal=seasonal,
        resolve_after=resolve_after,
        min_class_rows=min_class_rows,
        time_basis=time_basis,
        estimate=estimate,
        estimate_reference=estimate_reference,
    )
    out = console()
    out.print(Text.assemble(("created ", "green"), (monitor.uri, "bold"), f" on {monitor.source}"))
    out.print(monitor_info(monitor, operations_of(ctx).monitors.reference_of(monitor.name)))


@monitor_app.command(
    "run",
    epilog=_epilog(
        "loopml monitor run bikes-drift",
        "loopml monitor run --due",
        "loopml monitor run bikes-drift --partial --json",
    ),
)
def run(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help=NAME_HELP + " Omit with --due.", metavar="[NAME]")
    ] = None,
    due: Annotated[
        bool, typer.Option("--due", help="Run every scheduled monitor whose time has come.")
    ] = False,
    partial: Annotated[
        bool, typer.Option("--partial", help="Also evaluate the window that is not complete yet.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Evaluate every complete window since the last run, record results, apply alert rules."""
    if due == (name is not None):
        raise ValidationError("give a monitor NAME, or --due for every scheduled monitor")
    if due:  # the controller's sweep: it runs where the stores are
        batches = workspace_client_of(ctx).monitors.run_due()
    else:
        batches = {name or "": operations_of(ctx).monitors.run(name or "", partial=partial)}
    if as_json:
        print_json(
            {
                monitor: [
                    {**item.result.to_dict(), "alerts": item.alerts.to_dict()} for item in runs
                ]
                for monitor, runs in batches.items()
            }
        )
        return
    out = console()
    for monitor, runs in batches.items():
        if not runs:
            out.print(
                f"{monitor}: no complete window since the last run "
                "(use --partial to evaluate the open one)"
            )
            continue
        table = runs_table(runs)
        table.title = f"monitor {monitor}: {len(runs)} window(s)"
        out.print(table)


@monitor_app.command("list")
def list_monitors(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Every monitor with its latest window and open alerts."""
    service = operations_of(ctx).monitors
    rows = []
    for monitor in service.list():
        latest = service.results(monitor.name, max_results=1, newest_first=True)
        opened = service.alerts.list(monitor=monitor.name, state="open")
        rows.append((monitor, latest[-1] if latest else None, len(opened)))
    if as_json:
        print_json(
            [
                {**m.to_dict(), "results": last.seq if last else 0, "open_alerts": n}
                for m, last, n in rows
            ]
        )
        return
    console().print(monitors_table(rows))


@monitor_app.command(
    "show",
    epilog=_epilog(
        "loopml monitor show bikes-drift", "loopml monitor show bikes-drift --result 3 --json"
    ),
)
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    result: Annotated[
        int | None,
        typer.Option("--result", help="Result number (default: the latest).", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """A monitor's definition and one result: per-column drift, performance, latency, alerts."""
    service = operations_of(ctx).monitors
    monitor = service.get(name)
    results = service.results(name, max_results=1, newest_first=True)
    chosen = service.result(name, result) if (result is not None or results) else None
    opened = service.alerts.list(monitor=name, state="open")
    if as_json:
        print_json(
            {
                "monitor": monitor.to_dict(),
                "result": chosen.to_dict() if chosen else None,
                "open_alerts": [a.to_dict() for a in opened],
            }
        )
        return
    out = console()
    out.print(monitor_info(monitor, service.reference_of(monitor.name)))
    if chosen is None:
        out.print(f"\nno results yet: run `loopml monitor run {name}`")
        return
    window = chosen.window
    drift = window.drift
    out.print()
    out.print(
        Text.assemble(
            (f"result #{chosen.seq}", "bold"),
            f": {window.label}, {window.rows:,} rows, status {chosen.status}",
        )
    )
    if drift is not None:
        share = drift.share
        verdict = {
            True: ("yes", "bold red"),
            False: ("no", "green"),
            None: ("not tested", "yellow"),
        }
        out.print(
            Text.assemble(
                "dataset drift: ",
                verdict[drift.dataset_drift],
                f" — {len(drift.drifted)} of {len(drift.tested)} tested columns drifted"
                + (
                    f" ({share:.0%}, threshold {drift.drift_share:.0%})"
                    if share is not None
                    else ""
                )
                + (f"; {drift.message}" if drift.message and drift.status != "ok" else ""),
            )
        )
        out.print(columns_table(window))
    if window.freshness is not None:
        out.print(f"freshness: {performance_text(window)}")
    else:
        out.print(f"performance: {performance_text(window)}")
    if window.latency:
        out.print(latency_table(window))
    if opened:
        out.print(alerts_table(opened))


@monitor_app.command("report", epilog=_epilog("loopml monitor report bikes-drift -o drift.html"))
def report(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=NAME_HELP, metavar="NAME")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the HTML (default: NAME-RESULT.html).",
            show_default=False,
        ),
    ] = None,
    result: Annotated[
        int | None,
        typer.Option("--result", help="Result number (default: the latest).", show_default=False),
    ] = None,
) -> None:
    """Write a self-contained HTML report (aggregates only; opens offline)."""
    service = operations_of(ctx).monitors
    chosen = service.result(name, result)
    html = service.report(name, chosen.seq)
    path = output or Path(f"{name}-{chosen.seq}.html")
    path.write_text(html, encoding="utf-8")
    console().print(
        f"wrote {path} ({len(html.encode()) / 1024:.0f} KiB) for result #{chosen.seq} of {name}"
    )


monitor_app.command("results", epilog=RESULTS_EPILOG)(results)
monitor_app.command("alerts", epilog=ALERTS_EPILOG)(alerts)
monitor_app.command("acknowledge", epilog=ACKNOWLEDGE_EPILOG)(acknowledge)
monitor_app.command("resolve", epilog=RESOLVE_EPILOG)(resolve)
