"""loopml in a minute, the whole loop: version data, define features, track a sweep, approve
and deploy the best, monitor it, and let drift retrain, gate, canary and promote its
successor while a trigger keeps the online features on the newest data.

Run it with `make demo`. Everything lands in ./demo-workspace (or `--workspace DIR`),
recreated on every run, and nothing touches the network: the data are the Bike Sharing hours
bundled with loopml. The story does not depend on the machine's speed: the canary's steps
are held for a number of requests, not seconds, and live traffic is replayed until the
rollout decides. The demo checks its own end state — the rollout promoted, `champion` is
what the deployment serves, the online features come from the newest data, the canary was
judged on the estimate before any label and the late feedback agrees with it — and exits
with status 1 when it is not so.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import loopml
import loopml.sklearn
from loopml.config import init_workspace
from loopml.controller import Controller
from loopml.features import Entity, Feature, FeatureService, FeatureView
from loopml.monitoring.performance import performance
from loopml.monitoring.windows.queries import labelled_rows
from loopml.pipelines.queries import list_pipeline_runs
from loopml.prediction_log.queries import connect
from loopml.samples import FEATURES, TARGET, bikeshare_features, load_bikeshare, split_by_months
from loopml.serving.app import create_app
from loopml.serving.background import serve_in_background

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "demo-workspace"  # --workspace DIR replaces it
EXPERIMENT = "bikes-demand"
MODEL = "bikes-demand"
DEPLOYMENT = "bikes"
HOLDOUT = 0.2  # the last fifth of winter, in time order, judges the candidates
console = Console()


@dataclass(frozen=True)
class Candidate:
    name: str
    settings: str
    build: Callable[[], Any]


def ridge_on_calendar() -> Pipeline:
    """Ridge with hour and weekday one-hot encoded: demand per hour is far from linear."""
    calendar = OneHotEncoder(handle_unknown="ignore")
    encode = ColumnTransformer([("calendar", calendar, ["hr", "weekday"])], remainder="passthrough")
    return Pipeline([("encode", encode), ("ridge", Ridge(alpha=1.0))])


def forest(trees: int, **settings: Any) -> RandomForestRegressor:
    return RandomForestRegressor(n_estimators=trees, n_jobs=2, random_state=0, **settings)


def boosting(rounds: int, rate: float, **settings: Any) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        max_iter=rounds, learning_rate=rate, early_stopping=False, random_state=0, **settings
    )


CANDIDATES = [
    Candidate("ridge", "alpha 1, one-hot hour", ridge_on_calendar),
    Candidate("rf-shallow", "100 trees, depth 8", lambda: forest(100, max_depth=8)),
    Candidate("rf-deep", "200 trees, leaf 2", lambda: forest(200, min_samples_leaf=2)),
    Candidate("hgb-fast", "150 rounds, lr 0.1", lambda: boosting(150, 0.1)),
    Candidate("hgb-slow", "400 rounds, lr 0.05", lambda: boosting(400, 0.05, max_leaf_nodes=15)),
]


def compact_table(title: str) -> Table:
    """A borderless table that fits an 80-column terminal."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )


def step(number: int, title: str) -> None:
    console.print()
    console.rule(f"[bold cyan]{number}. {title}", align="left")


def scores(y: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(root_mean_squared_error(y, predicted)),
        "mae": float(mean_absolute_error(y, predicted)),
        "r2": float(r2_score(y, predicted)),
    }


def staged_rmse(model: Any, x: pd.DataFrame, y: pd.Series) -> list[tuple[int, float]]:
    """Validation RMSE as the model grows: per boosting round, or per tree of a forest."""
    if isinstance(model, HistGradientBoostingRegressor):
        stages = model.staged_predict(x)
    elif isinstance(model, RandomForestRegressor):
        per_tree = np.stack([tree.predict(x.to_numpy()) for tree in model.estimators_])
        stages = np.cumsum(per_tree, axis=0) / np.arange(1, len(per_tree) + 1)[:, None]
    else:
        return []
    return [(i, float(root_mean_squared_error(y, p))) for i, p in enumerate(stages, start=1)]


def fresh_workspace() -> loopml.Client:
    logging.getLogger("loopml.alerts").addHandler(logging.NullHandler())  # the demo prints them
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    init_workspace(WORKSPACE)
    client = loopml.connect(WORKSPACE)
    loopml.set_client(client)
    return client


def version_data(bikes: pd.DataFrame) -> tuple[loopml.DatasetVersion, loopml.DatasetVersion]:
    winter = loopml.log_dataset(
        "bikes",
        split_by_months(bikes, ["Jan", "Feb", "Mar"]),
        time_column="timestamp",
        description="hourly rentals, January to March 2011",
    )
    spring = loopml.log_dataset(
        "bikes",
        split_by_months(bikes, ["Apr", "May", "Jun"]),
        time_column="timestamp",
        parent=winter.uri,
        description="hourly rentals, April to June 2011: the next batch",
    )
    for version in (winter, spring):
        start, end = version.profile["timestamp"]["min"], version.profile["timestamp"]["max"]
        console.print(
            f"  [green]{version.uri}[/]  {version.row_count:,} rows  {str(start)[:10]} → "
            f"{str(end)[:10]}  hash {version.content_hash[:12]}…"
        )
    parent = loopml.get_dataset(spring.parent_id).uri if spring.parent_id else "none"
    console.print(f"  lineage: {spring.uri} has parent {parent}")
    return winter, spring


def show_diff(winter: loopml.DatasetVersion, spring: loopml.DatasetVersion) -> None:
    diff = loopml.diff_datasets(winter, spring)
    table = Table(box=None, padding=(0, 2))
    for column in ("", winter.uri, spring.uri, "change"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row("rows", f"{diff.rows_old:,}", f"{diff.rows_new:,}", f"{diff.row_delta:+,}")
    for column in ("temp", "hum", "bikers"):
        mean = diff.columns[column]["mean"]
        digits = 1 if column == TARGET else 3
        table.add_row(
            f"mean {column}",
            f"{mean['old']:.{digits}f}",
            f"{mean['new']:.{digits}f}",
            f"{mean['delta']:+.{digits}f}",
        )
    console.print(table)
    console.print(f"  schema changed: {diff.schema_changed}")


FEATURE_VIEW = "weekly_demand"
FEATURE_SERVICE = "weekly-demand"
FEATURE_MONITOR = "bikes-features"


def feature_store(client: loopml.Client, bikes: pd.DataFrame) -> None:
    """Demand at the same hour of the week, one week earlier: defined once over dataset
    'bikes', joined point-in-time into a training set, materialized for serving, and
    watched by a monitor (data and freshness) and a trigger (new versions of its source)."""
    slot = Entity("hour_of_week", ["weekday", "hr"])
    view = FeatureView(
        FEATURE_VIEW,
        slot,
        "dataset:bikes",  # follows the newest version
        [
            Feature("bikers_last_week", "float64", "bikers"),
            Feature("temp_last_week", "float64", "temp"),
        ],
        timestamp_column="timestamp",
    )
    client.features.apply([slot, view, FeatureService(FEATURE_SERVICE, [f"{FEATURE_VIEW}:*"])])
    spring = split_by_months(bikes, [4, 5, 6])
    asked = spring[["weekday", "hr", "timestamp", TARGET]].assign(
        event_timestamp=spring["timestamp"] - pd.Timedelta(hours=1)  # asked an hour ahead
    )
    built = loopml.training_set(FEATURE_SERVICE, asked)
    lagged = built.frame[[TARGET, "bikers_last_week"]].corr().iloc[0, 1]
    [run] = client.features.materialize([FEATURE_VIEW])
    online = client.get_online_features([{"weekday": 1, "hr": 8}], FEATURE_SERVICE)
    client.monitors.create(
        FEATURE_MONITOR,
        feature_view=FEATURE_VIEW,
        window="14d",
        rules=["dataset_drift"],
        max_behind="1h",
        schedule="1h",
        calibrate="fixed",
    )
    client.triggers.create(
        "refresh-features",
        f"feature_view:{FEATURE_VIEW}",
        "bikes_pipeline:refresh_features",
        params={"view": "{trigger.feature_view}"},
    )
    console.print(
        f"  view {FEATURE_VIEW} over dataset:bikes, keyed by (weekday, hr): the same hour "
        "one week earlier\n"
        f"  training set {built.uri}: {built.result.rows:,} spring hours asked an hour ahead, "
        f"{built.result.missing['bikers_last_week']} without a week before; "
        f"corr(bikers, bikers_last_week) = {lagged:.2f}\n"
        f"  online: {run.entities} hour-of-week slots from {run.source}; Monday 8:00 → "
        f"{online['bikers_last_week'][0]:.0f} bikers last week\n"
        f"  monitor {FEATURE_MONITOR}: drift per 14 days and freshness (alert when the "
        f"source is > 1 h ahead of the online values); trigger refresh-features materializes "
        "each new version of the source"
    )


@dataclass(frozen=True)
class Split:
    """Winter in time order: the first 80 % trains, the rest judges (no peeking ahead)."""

    train: pd.DataFrame
    holdout: pd.DataFrame

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Split:
        ordered = frame.sort_values("timestamp", ignore_index=True)
        cut = int(len(ordered) * (1 - HOLDOUT))
        return cls(ordered.iloc[:cut], ordered.iloc[cut:].reset_index(drop=True))

    @property
    def holdout_window(self) -> str:
        stamps = self.holdout["timestamp"]
        return f"{stamps.min():%b %d}-{stamps.max():%d}"  # within one month (March)


def train_candidate(
    candidate: Candidate, data: loopml.DatasetVersion, split: Split
) -> dict[str, float]:
    """One run: autolog records the estimator and model; the demo adds validation."""
    x_train, y_train = bikeshare_features(split.train), split.train[TARGET]
    x_val, y_val = bikeshare_features(split.holdout), split.holdout[TARGET]
    params = {"settings": candidate.settings, "features": ",".join(FEATURES)}
    with loopml.start_run(EXPERIMENT, candidate.name, params=params, inputs=[data]) as run:
        model = candidate.build().fit(x_train, y_train)
        val = scores(y_val, model.predict(x_val))
        run.log_metrics({f"val_{k}": v for k, v in val.items()}, step=0)
        curve = staged_rmse(model, x_val, y_val)
        run.log_batch(metrics=[("staged_val_rmse", rmse, stage) for stage, rmse in curve])
        report = {
            "run": candidate.name,
            "trained_on": data.uri,
            "target": TARGET,
            "features": list(FEATURES),
            "train_rows": len(x_train),
            "holdout": split.holdout_window,
            "validation": val,
        }
        run.log_json(report, "evaluation.json")
    return val


def sweep(winter: loopml.DatasetVersion) -> Split:
    split = Split.of(loopml.load_dataset(winter))
    console.print(
        f"  {len(split.train):,} hours train, {len(split.holdout):,} held out "
        f"({split.holdout_window}); autolog records each fit"
    )
    loopml.sklearn.autolog()
    try:
        for candidate in CANDIDATES:
            started = time.perf_counter()
            with console.status(f"training {candidate.name}…"):
                val = train_candidate(candidate, winter, split)
            console.print(
                f"  [green]✓[/] {candidate.name:<11} {candidate.settings:<22} val R² "
                f"{val['r2']:.3f}  [dim]{time.perf_counter() - started:.1f} s[/]"
            )
    finally:
        loopml.sklearn.autolog(disable=True)
    return split


def leaderboard(client: loopml.Client) -> loopml.RunRecord:
    runs = loopml.search_runs(EXPERIMENT, order_by="metrics.val_r2 DESC")
    table = compact_table(f"experiment {EXPERIMENT!r}: scores on the winter hold-out, best first")
    table.add_column("run", no_wrap=True)
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("settings", no_wrap=True)
    for column in ("R²", "RMSE", "MAE", "train R²"):
        table.add_column(column, justify="right", no_wrap=True)
    for rank, run in enumerate(runs):
        m = run.metrics
        table.add_row(
            run.name,
            run.uri,
            run.params["settings"],
            f"{m['val_r2']:.3f}",
            f"{m['val_rmse']:.1f}",
            f"{m['val_mae']:.1f}",
            f"{m['training_r2']:.3f}",
            style="bold green" if rank == 0 else None,
        )
    console.print(table)
    best = runs[0]
    curve = client.metric_history(best.id, "staged_val_rmse")
    artifacts = [a["path"] for a in client.list_artifacts(best.id)]
    console.print(
        f"  inside {best.name}: {len(best.params)} params, {len(best.metrics)} metrics, input "
        f"{', '.join(i['dataset'] for i in best.inputs)}\n"
        f"  staged_val_rmse: {len(curve)} points, {curve[0].value:.0f} → {curve[-1].value:.1f}\n"
        f"  artifacts: {', '.join(artifacts)}"
    )
    return best


def holdout_dataset(split: Split, winter: loopml.DatasetVersion) -> loopml.DatasetVersion:
    """The winter hold-out as model inputs plus the target, for evaluations and checks."""
    frame = bikeshare_features(split.holdout).assign(**{TARGET: split.holdout[TARGET].to_numpy()})
    return loopml.log_dataset(
        "bikes-holdout", frame, parent=winter.uri, description="winter hold-out, model inputs"
    )


def register_and_approve(
    client: loopml.Client, best: loopml.RunRecord, holdout: loopml.DatasetVersion
) -> str:
    """Register the best run's model and promote it to champion under a policy."""
    version = client.models.register(
        MODEL,
        best.id,
        description="Hourly bike rentals in Washington D.C., from calendar and weather.",
        card={
            "intended_use": "Plan bike redistribution a day ahead (demo).",
            "out_of_scope": "Other cities; months unlike the training data without retraining.",
            "owners": "demo team",
            "limitations": ["Trained on January-March only: expect under-prediction in summer."],
        },
    )
    policy = client.models.set_policy(
        MODEL,
        {
            "required_approvals": 1,
            "four_eyes": True,
            # one person plays every role in this demo, so the approvers it creates
            # count as second people; a team keeps the default (true)
            "independent_approvers": False,
            "thresholds": [{"metric": "val_r2", "op": ">=", "value": 0.8}],
            "no_regression": {"dataset": holdout.uri, "target": TARGET, "metric": "rmse"},
            "fairness": {
                "dataset": holdout.uri,
                "target": TARGET,
                "sensitive": ["workingday"],
                "limits": {"mae_ratio": 0.3},
            },
        },
    )
    console.print(
        f"  registered [bold]{version.uri}[/] from {best.uri}; policy: "
        f"{policy.required_approvals} approval by an approver other than the requester, "
        f"{len(policy.thresholds)} threshold, no regression, fairness by workingday"
    )
    client.models.evaluate(version.uri, holdout.uri, TARGET, sensitive=["workingday"])
    request = client.approvals.request(version.uri, reason="best of the winter sweep")
    for check in request.checks:
        mark = "[green]✓[/]" if check["passed"] else "[red]✗[/]"
        console.print(f"  {mark} {check['name']}: {check['message']}")
    client.auth.create_principal("alice", "approver")
    token = client.auth.create_token("alice", label="demo").token
    ALICE_TOKEN[:] = [token]
    reviewer = loopml.connect(WORKSPACE, token=token)
    decided = reviewer.approvals.approve(request.id, comment="checks pass; ship it")
    reviewer.close()
    console.print(
        f"  request {request.id} by {request.requester}: {decided.status} by "
        f"{decided.decisions[0].principal} → {MODEL}@champion = {version.uri}"
    )
    console.print("  lineage:")
    for line in client.models.lineage_text(version.uri).splitlines():
        console.print(f"    {line}", highlight=False)
    card_md = WORKSPACE / "model-card.md"
    card_html = WORKSPACE / "model-card.html"
    card_md.write_text(client.models.card_markdown(version.uri))
    card_html.write_text(client.models.card_html(version.uri))
    audit = client.audit.verify()
    console.print(
        f"  model card: {shown(card_md)} and {shown(card_html)}\n"
        f"  audit trail: {audit.checked} events, "
        + ("intact" if audit.ok else f"[red]broken: {audit.reason}[/]")
    )
    return version.uri


MONITOR = "bikes-health"
REPLAY_MONTHS = (4, 5, 6, 7, 8)
HOURS_PER_WINDOW = 672  # four weeks of hours: one monitor window per replayed month
ALICE_TOKEN: list[str] = []  # the approver's token, kept for the promotion at the end
ROLLOUT_PLAN: dict[str, Any] = {
    "steps": [10, 50, 100],
    "hold_s": 0,  # held for requests, not seconds; minutes or hours in production
    "min_requests": 15,
    "min_labelled": 20,
    "max_error_rate": 0.01,
    "max_p99_ms": 250,
    "max_accuracy_drop": 0.05,
    # Feedback lags: until enough has come, a step is judged on both sides' estimated RMSE,
    # fitted on the labelled data the gate evaluated the candidate on.
    "judge_by": "labels_or_estimate",
}
ALERT_RULES = ["dataset_drift", "column_drift:temp", "metric_below:r2:0.6", "latency_above:p99:250"]


def deploy_and_monitor(client: loopml.Client, holdout: loopml.DatasetVersion) -> None:
    """Deploy the champion and declare a monitor on its prediction log; it also estimates
    RMSE from the predictions alone, fitted on the champion's hold-out."""
    # The default traffic policy gives full traffic only to the version holding champion,
    # and up to 50 % to one whose request for champion passed its checks.
    deployment = client.deployments.create(DEPLOYMENT, f"model:{MODEL}@champion")
    policy = client.deployments.policy.get(DEPLOYMENT).policy
    monitor = client.monitors.create(
        MONITOR,
        f"deployment:{DEPLOYMENT}",
        window=f"{HOURS_PER_WINDOW} rows",
        rules=ALERT_RULES,
        estimate=True,
        estimate_reference=holdout.uri,
    )
    client.triggers.create(
        "retrain-on-accuracy-drop",
        f"alert:{MONITOR}:metric_below:r2:0.6",
        "bikes_pipeline:retrain",
        params={"dataset": "bikes", "holdout": "bikes-recent"},
        cooldown="1h",
        rollout={"deployment": DEPLOYMENT, "plan": ROLLOUT_PLAN},
    )
    reference = client.monitors.evaluator.reference(monitor)
    columns = client.monitors.evaluator.columns(monitor, reference)
    console.print(
        f"  {deployment.uri} → {deployment.routes[0].uri} (revision {deployment.revision})\n"
        f"  {monitor.uri}: windows of {monitor.config.window}, reference "
        f"[bold]{reference.dataset.uri}[/] (the champion's training data, found through lineage)"
        f"\n  columns: {', '.join(columns)} + the prediction\n"
        f"  alert rules: {', '.join(ALERT_RULES)}\n"
        f"  estimated RMSE (DLE, no labels needed) fitted on the hold-out {holdout.uri}\n"
        "  trigger retrain-on-accuracy-drop: the r2 alert → pipeline bikes_pipeline:retrain → "
        f"rollout {' % → '.join(str(s) for s in ROLLOUT_PLAN['steps'])} %\n"
        f"  traffic policy: more than {policy.max_partial_weight:g} % only for "
        f"{MODEL}@{policy.approved_alias}; up to it for a version whose checks passed"
    )


def data_plane_headers(client: loopml.Client) -> dict[str, str]:
    """A deployment token for the replayed traffic: the data plane asks for one."""
    token = client.deployments.tokens.create(
        DEPLOYMENT, ["predict", "feedback"], label="demo replay", expires_in_s=3600
    )
    return {"Authorization": f"Bearer {token.token}"}


def replay_months(client: loopml.Client, bikes: pd.DataFrame) -> None:
    """Replay April-August day by day through REST and post the ground truth of each day."""
    latencies: list[float] = []
    requests = 0
    headers = data_plane_headers(client)  # before the server starts, which reads the tokens
    with (
        serve_in_background(create_app(client, [DEPLOYMENT])) as url,  # loads the token
        httpx.Client(base_url=url, timeout=30, headers=headers) as http,
    ):
        console.print(f"  serving at {url}")
        progress = replay_progress()
        task = progress.add_task("replaying", total=len(REPLAY_MONTHS) * HOURS_PER_WINDOW // 24)
        with progress:
            for month in REPLAY_MONTHS:
                progress.update(task, description=f"{pd.Timestamp(2011, month, 1):%B}")
                hours = split_by_months(bikes, [month]).sort_values("timestamp")
                requests += post_days(http, hours[:HOURS_PER_WINDOW], latencies)
                progress.advance(task, HOURS_PER_WINDOW // 24)
    console.print(
        f"  {requests} requests ({requests * 24:,} hours, {len(REPLAY_MONTHS)} months) answered, "
        f"median latency {np.median(latencies):.1f} ms; the ground truth posted as feedback"
    )


def replay_progress() -> Progress:
    """A bar for traffic replays (it disappears when done: the summary line stays)."""
    return Progress(
        TextColumn("  {task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("requests"),
        console=console,
        transient=True,
    )


def post_days(http: httpx.Client, hours: pd.DataFrame, latencies: list[float]) -> int:
    """One request per day (24 hours) and its ground truth; returns how many were sent."""
    sent = 0
    for start in range(0, len(hours), 24):
        rows = hours.iloc[start : start + 24]
        records = bikeshare_features(rows).to_dict(orient="records")
        began = time.perf_counter()
        answer = http.post(f"/v1/deployments/{DEPLOYMENT}/predict", json={"records": records})
        latencies.append((time.perf_counter() - began) * 1000)
        answer.raise_for_status()
        http.post(
            f"/v1/deployments/{DEPLOYMENT}/feedback",
            json={
                "request_id": answer.json()["request_id"],
                "labels": [float(v) for v in rows[TARGET]],
            },
        ).raise_for_status()
        sent += 1
    return sent


def monitor_report(client: loopml.Client, best: loopml.RunRecord) -> None:
    """Run the monitor: one window per month, drift and live accuracy, alerts, a report."""
    started = time.perf_counter()
    runs = client.monitors.run(MONITOR)
    elapsed = time.perf_counter() - started
    table = compact_table(f"monitor {MONITOR}: one window per replayed month")
    for column in (
        "month",
        "drifted",
        "temp W₁",
        "hum W₁",
        "prediction",
        "R²",
        "RMSE",
        "est. RMSE",
        "p99 ms",
        "alerts",
    ):
        table.add_column(column, justify="left" if column in ("month", "alerts") else "right")
    for month, item in zip(REPLAY_MONTHS, runs, strict=False):
        window = item.result.window
        drift = window.drift
        assert drift is not None and window.performance is not None
        metrics = window.performance.metrics
        changes = [f"{len(item.alerts.opened)} opened"] if item.alerts.opened else []
        changes += [f"{len(item.alerts.resolved)} resolved"] if item.alerts.resolved else []
        prediction = next((c for c in drift.columns if c.is_prediction), None)
        table.add_row(
            pd.Timestamp(2011, month, 1).strftime("%B"),
            f"{len(drift.drifted)}/{len(drift.tested)}"
            + (" [bold red]dataset[/]" if drift.dataset_drift else ""),
            _score(drift.column("temp")),
            _score(drift.column("hum")),
            "—" if prediction is None else _score(prediction),
            f"{metrics['r2']:.3f}",
            f"{metrics['rmse']:.1f}",
            _estimated(window.estimated, "rmse"),
            f"{window.latency[0].p99_ms:.0f}" if window.latency else "—",
            " ".join(changes) or "",
            style="red" if (metrics["r2"] or 0) < 0.6 else None,
        )
    console.print(table)
    opened = client.monitors.alerts.list(monitor=MONITOR, state="open")
    console.print(
        f"  {len(runs)} windows computed in {elapsed:.1f} s (W₁: Wasserstein distance / reference "
        "std, drift at ≥ 0.1; prediction: KS p-value against the first window)\n"
        f"  winter hold-out R² was {best.metrics['val_r2']:.3f}: trained on cold months, the "
        "champion under-predicts warm ones\n"
        "  est. RMSE is what the predictions alone suggest: the winter hold-out never showed "
        "summer's errors, so only the labels reveal them (docs/monitoring.md)"
    )
    for alert in opened:
        console.print(
            f"  [red]open alert[/] {alert.rule}: {alert.message} ({alert.occurrences} windows)"
        )
    report = WORKSPACE / "drift-report.html"
    report.write_text(client.monitors.report(MONITOR), encoding="utf-8")
    console.print(
        f"  drift report (self-contained HTML, {report.stat().st_size / 1024:.0f} KiB): "
        f"{shown(report)}"
    )


def new_data_and_retrain(client: loopml.Client, bikes: pd.DataFrame) -> str | None:
    """Version the labelled months, judge on the newest weeks, and let the controller act."""
    labelled = loopml.log_dataset(
        "bikes",
        split_by_months(bikes, range(1, 8)),
        time_column="timestamp",
        parent="bikes@2",
        description="hourly rentals, January to July 2011: labelled, for training",
    )
    august = split_by_months(bikes, [8]).sort_values("timestamp")[:HOURS_PER_WINDOW]
    recent = loopml.log_dataset(
        "bikes-recent",
        bikeshare_features(august).assign(**{TARGET: august[TARGET].to_numpy()}),
        description="the newest four labelled weeks (August), held out: the gate judges on "
        "rows no candidate trained on",
    )
    judged = {"dataset": recent.uri, "target": TARGET}
    client.models.set_policy(
        MODEL,
        {
            "required_approvals": 1,
            "four_eyes": True,
            # one person plays every role in this demo, so the approvers it creates
            # count as second people; a team keeps the default (true)
            "independent_approvers": False,
            "thresholds": [{"metric": "val_r2", "op": ">=", "value": 0.8}],
            "no_regression": {**judged, "metric": "rmse"},
            "fairness": {**judged, "sensitive": ["workingday"], "limits": {"mae_ratio": 0.3}},
        },
    )
    console.print(
        f"  [green]{labelled.uri}[/] {labelled.row_count:,} rows (Jan-Jul), "
        f"[green]{recent.uri}[/] (the newest 4 weeks); the policy now judges on {recent.uri}"
    )
    started = time.perf_counter()
    with console.status("controller: one reconcile pass (trigger → pipeline → gate → rollout)"):
        report = Controller(client, owner="demo-controller").reconcile_once()
    for event in report.recorded:
        cause = event.cause_info.get("dataset") if event.cause_info.get("dataset") else "alert"
        console.print(
            f"  controller: trigger {event.trigger} fired once for "
            + (f"{cause} (new version of the view's source)" if cause != "alert" else "")
            + (f"alert {event.cause}" if cause == "alert" else "")
        )
    features_report(client)
    request_id = None
    for event in report.finished:
        outcome = event.outcome or {}
        if event.trigger == "refresh-features":
            done = outcome.get("outputs") or {}
            console.print(
                f"  refresh-features {event.state}: {done.get('entities')} slots materialized "
                f"from {done.get('source')}"
            )
            continue
        [summary] = [
            r
            for r in list_pipeline_runs(client.stores, "bikes-retrain")
            if r.run_id == event.pipeline_run_id
        ]
        console.print(
            f"  pipeline bikes-retrain ({summary.run_id}) {summary.status} in "
            f"{time.perf_counter() - started:.1f} s: {summary.steps} step runs "
            f"(newest data, a 3-setting sweep, the gate), {summary.cached} from cache"
        )
        gate = outcome.get("outputs") or {}
        for check in gate.get("checks", []):
            mark = "[green]✓[/]" if check["passed"] else "[red]✗[/]"
            console.print(f"  gate {mark} {check['name']}: {check['message']}")
        request_id = gate.get("request")
        console.print(
            f"  {gate.get('version')} registered as challenger; approval request {request_id} "
            "for champion opened (the policy needs one approver, four eyes)"
        )
    for error in report.errors:
        console.print(f"  [red]{error}[/]")
    rollout = client.rollouts.get(DEPLOYMENT)
    console.print(
        f"  {rollout.uri} started: {rollout.candidate} gets {rollout.weight:g} % of "
        f"deployment:{DEPLOYMENT}, {rollout.stable} keeps the rest"
    )
    return request_id


def features_report(client: loopml.Client) -> None:
    """What the scheduled feature monitor saw in the reconcile pass: July's windows against
    spring, and the online values falling behind the new version until it is materialized."""
    results = client.monitors.results(FEATURE_MONITOR)
    windows = [r for r in results if r.window.drift is not None]
    drifted = [
        f"{r.window.label[:10]}: {len(r.window.drift.drifted)}/{len(r.window.drift.tested)}"
        for r in windows
        if r.window.drift is not None
    ]
    opened = [
        a for a in client.monitors.alerts.list(monitor=FEATURE_MONITOR) if a.rule.startswith("fr")
    ]
    console.print(
        f"  monitor {FEATURE_MONITOR}: {len(windows)} new 14-day windows of the view "
        f"(features drifted {', '.join(drifted) or 'none'})"
    )
    for alert in opened:
        console.print(f"  [red]alert[/] {alert.rule}: {alert.message}")


CANARY_MONTHS = (9, 10, 11, 12)  # live traffic for the canary, hour by hour, in order
CHECK_EVERY = 25  # requests between two reconcile passes


@dataclass
class CanaryOutcome:
    """How the canary ended: the rollout's state and how much traffic it took."""

    state: str
    requests: int
    seconds: float
    judged: list[tuple[str, str, dict[str, float], float | None]]  # steps judged on estimate


def canary(client: loopml.Client, bikes: pd.DataFrame, request_id: str | None) -> CanaryOutcome:
    """Autumn hour by hour through REST; the controller checks SLOs between requests, until
    the rollout decides (each step is held for requests, not for seconds, so a slow machine
    takes longer, never a different turn). The feedback lags: no label comes while the canary
    runs, so each step is judged on the estimated RMSE of both versions; the labels, posted
    once the rollout decided, then show what the estimate said. Autumn running out first is
    a failure the end-state check reports."""
    controller = Controller(client, owner="demo-controller")
    autumn = split_by_months(bikes, CANARY_MONTHS).sort_values("timestamp")
    features = bikeshare_features(autumn).to_dict(orient="records")
    approved = False
    table = compact_table("rollout steps, judged before any label came (est.: DLE, 90 % band)")
    for column in ("step", "requests", "errors", "p99 ms", "judged on", "est. RMSE new", "old"):
        table.add_column(column, justify="left" if column in ("step", "judged on") else "right")
    table.add_column("verdict")
    progress = replay_progress()
    task = progress.add_task("autumn", total=len(features))
    began = time.perf_counter()
    sent = 0
    late: list[tuple[str, float]] = []  # (request id, truth): the feedback, not yet sent
    headers = data_plane_headers(client)  # before the server starts, which reads the tokens
    with (
        serve_in_background(create_app(client, [DEPLOYMENT])) as url,  # loads the token
        httpx.Client(base_url=url, timeout=30, headers=headers) as http,
        progress,
    ):
        for record, truth in zip(features, autumn[TARGET], strict=True):
            progress.advance(task)
            answer = http.post(f"/v1/deployments/{DEPLOYMENT}/predict", json={"records": [record]})
            answer.raise_for_status()
            late.append((answer.json()["request_id"], float(truth)))
            sent += 1
            if sent % CHECK_EVERY:
                continue
            before = client.rollouts.get(DEPLOYMENT)
            controller.reconcile_once()
            after = client.rollouts.get(DEPLOYMENT)
            if after.revision != before.revision:
                _rollout_row(table, client, before, after)
            if after.state == "awaiting_approval" and not approved and request_id:
                reviewer = loopml.connect(WORKSPACE, token=ALICE_TOKEN[0])
                reviewer.approvals.approve(request_id, comment="canary healthy; promote")
                reviewer.close()
                approved = True
                progress.console.print(
                    f"  the {after.weight:g} % step passed its SLOs; more traffic needs champion "
                    f"(the traffic policy), so alice (approver) approves {request_id}"
                )
            if not after.active:
                break
        for request_id_, truth in late:  # the ground truth of the canary arrives, late
            http.post(
                f"/v1/deployments/{DEPLOYMENT}/feedback",
                json={"request_id": request_id_, "labels": [truth]},
            ).raise_for_status()
    console.print(table)
    final = client.rollouts.get(DEPLOYMENT)
    console.print(
        f"  {final.uri}: [bold]{final.state}[/] after {sent} requests "
        f"({time.perf_counter() - began:.1f} s); deployment:{DEPLOYMENT} routes "
        f"{routes_text(client)}"
    )
    judged = _estimate_judged_steps(client, final.id)
    confirm = compact_table("the canary's feedback, once it came, against the estimate")
    for column in ("step", "version", "est. RMSE (90 % band)", "RMSE from feedback", ""):
        confirm.add_column(column, justify="left" if column in ("step", "version") else "right")
    for step_weight, side, estimated, realized in judged:
        inside = realized is not None and estimated["lower"] <= realized <= estimated["upper"]
        confirm.add_row(
            step_weight,
            side,
            f"{estimated['value']:.1f} ({estimated['lower']:.0f}-{estimated['upper']:.0f})",
            _fmt(realized, 1),
            "[green]in band[/]" if inside else "[red]outside[/]",
        )
    console.print(confirm)
    return CanaryOutcome(final.state, sent, time.perf_counter() - began, judged)


def _estimate_judged_steps(
    client: loopml.Client, rollout_id: str
) -> list[tuple[str, str, dict[str, float], float | None]]:
    """For each step judged on the estimate: (step, version, its estimate with the band,
    the RMSE the feedback now gives on the same rows)."""
    found = []
    rollout = client.rollouts.get(DEPLOYMENT)
    judged = 0
    for entry in client.rollouts.history(rollout_id):
        analysis = entry.get("analysis") or {}
        estimated = analysis.get("estimated")
        if not analysis.get("checks") or len(analysis["checks"]) < 3:
            continue  # an early look at errors and latency alone, not a judged step
        judged += 1
        if analysis.get("basis") != "estimate" or not estimated:
            continue
        weight = f"{rollout.plan.steps[judged - 1]:g} %"
        for side in ("candidate", "stable"):
            item = estimated[side]
            if item["value"] is None or item["lower"] is None or item["upper"] is None:
                continue
            realized = realized_rmse(client, analysis["since"], analysis["until"], item["model"])
            found.append((weight, item["model"], item, realized))
    return found


@dataclass(frozen=True)
class EstimatedWindow:
    """A window estimated with no label, and the RMSE its feedback gave afterwards."""

    label: str
    value: float
    lower: float
    upper: float
    realized: float | None

    @property
    def confirmed(self) -> bool:
        return self.realized is not None and self.lower <= self.realized <= self.upper


def ahead_of_labels(
    client: loopml.Client, bikes: pd.DataFrame, canary_hours: int
) -> list[EstimatedWindow]:
    """The rest of autumn reaches the new champion with no ground truth yet: the monitor
    estimates each window's RMSE from the predictions alone, and the feedback, posted
    afterwards, confirms it on the same rows."""
    recent = client.datasets.get("bikes-recent")
    client.monitors.create(  # the new champion's own hold-out: August, which it never saw
        MONITOR,
        f"deployment:{DEPLOYMENT}",
        window=f"{HOURS_PER_WINDOW} rows",
        rules=ALERT_RULES,
        estimate=True,
        estimate_reference=recent.uri,
        replace=True,  # same windows, same cursor: only the estimator's reference changes
    )
    autumn = split_by_months(bikes, CANARY_MONTHS).sort_values("timestamp")
    rest = autumn.iloc[canary_hours:]
    headers = data_plane_headers(client)
    answered: list[tuple[str, list[float]]] = []
    with (
        serve_in_background(create_app(client, [DEPLOYMENT])) as url,
        httpx.Client(base_url=url, timeout=30, headers=headers) as http,
    ):
        for start in range(0, len(rest), 24):  # one request per day, no feedback yet
            rows = rest.iloc[start : start + 24]
            records = bikeshare_features(rows).to_dict(orient="records")
            answer = http.post(f"/v1/deployments/{DEPLOYMENT}/predict", json={"records": records})
            answer.raise_for_status()
            answered.append((answer.json()["request_id"], [float(v) for v in rows[TARGET]]))
    runs = client.monitors.run(MONITOR)  # the server flushed its log when it stopped
    with (
        serve_in_background(create_app(client, [DEPLOYMENT])) as url,
        httpx.Client(base_url=url, timeout=30, headers=headers) as http,
    ):
        for request_id, labels in answered:  # the ground truth arrives, late
            http.post(
                f"/v1/deployments/{DEPLOYMENT}/feedback",
                json={"request_id": request_id, "labels": labels},
            ).raise_for_status()
    table = compact_table("new champion: estimated when served, realized once labels came")
    for column in ("window", "labels then", "est. RMSE (95 % band)", "RMSE from feedback", ""):
        table.add_column(column, justify="left" if column == "window" else "right")
    windows = []
    for item in runs:
        window = item.result.window
        estimated = window.estimated
        if estimated is None or estimated.status != "ok" or window.start is None:
            continue
        rmse = estimated.metrics.get("rmse") or {}
        value, lower, upper = rmse.get("value"), rmse.get("lower"), rmse.get("upper")
        if value is None or lower is None or upper is None:
            continue
        realized = realized_rmse(client, window.start, window.end, estimated.model)
        windows.append(EstimatedWindow(window.label, value, lower, upper, realized))
        table.add_row(
            window.label,
            f"{estimated.labelled_rows}/{estimated.rows}",
            _estimated(estimated, "rmse"),
            _fmt(realized, 1),
            "[green]in band[/]" if windows[-1].confirmed else "[red]outside[/]",
        )
    console.print(table)
    console.print(
        f"  {len(answered)} requests ({len(answered) * 24:,} hours) answered with no label; the "
        "estimate came with each window, the feedback came afterwards"
    )
    return windows


def realized_rmse(
    client: loopml.Client, start: float, end: float | None, model: str | None
) -> float | None:
    """The RMSE of a window's rows of `model` from the feedback that has come by now."""
    with connect(client.stores, DEPLOYMENT, start, end) as conn:
        rows = labelled_rows(conn, start, end, model=model)
    quality = performance(rows, task="regression")
    return quality.metrics.get("rmse") if quality.status == "ok" else None


def routes_text(client: loopml.Client) -> str:
    """The deployment's live routing as stored: routes with weights, then shadows."""
    deployment = client.deployments.get(DEPLOYMENT)
    text = ", ".join(f"{r.uri} {r.weight:g} %" for r in deployment.routes)
    if deployment.shadows:
        text += " (mirrored to " + ", ".join(r.uri for r in deployment.shadows) + ")"
    return text


def estimate_problems(outcome: CanaryOutcome, windows: list[EstimatedWindow]) -> list[str]:
    """What the estimates did not show as the story says: the canary judged on the estimate
    with no label, the new version's estimated RMSE below the old one's and the late
    feedback agreeing, and the last window's feedback inside its estimate's band."""
    problems = []
    if not outcome.judged:
        problems.append("no canary step was judged on the estimate, though no label had come")
    steps: dict[str, list[tuple[str, float, float | None]]] = {}
    for step_weight, model, estimated, realized in outcome.judged:
        steps.setdefault(step_weight, []).append((model, estimated["value"], realized))
    for step_weight, ((new, est_new, real_new), (old, est_old, real_old)) in steps.items():
        if est_new >= est_old:
            problems.append(
                f"at the {step_weight} step the estimated RMSE of {new} ({est_new:.1f}) did not "
                f"drop below {old}'s ({est_old:.1f})"
            )
        if real_new is None or real_old is None or real_new >= real_old:
            problems.append(
                f"at the {step_weight} step the feedback did not confirm the drop: {new} "
                f"{_fmt(real_new, 1)} vs {old} {_fmt(real_old, 1)}"
            )
    if not windows:
        problems.append("no window of the new champion was estimated ahead of its labels")
    elif not windows[-1].confirmed:
        last = windows[-1]
        problems.append(
            f"in the last window ({last.label}) the feedback's RMSE {_fmt(last.realized, 1)} "
            f"lies outside the estimate's band {last.lower:.1f}-{last.upper:.1f}"
        )
    return problems


def end_state_problems(client: loopml.Client) -> list[str]:
    """What is wrong with the loop's end state (empty when it closed as the story says)."""
    problems = []
    rollout = client.rollouts.get(DEPLOYMENT)
    if rollout.state != "promoted":
        problems.append(
            f"{rollout.uri} is {rollout.state} at {rollout.weight:g} %, not promoted: "
            + "; ".join(rollout.reasons)
        )
    champion = client.models.get(f"{MODEL}@champion")
    deployment = client.deployments.get(DEPLOYMENT)
    served = [(r.uri, r.weight) for r in deployment.routes]
    if served != [(champion.uri, 100.0)]:
        problems.append(
            f"{MODEL}@champion is {champion.uri} but deployment:{DEPLOYMENT} routes "
            f"{routes_text(client)}"
        )
    if rollout.state == "promoted" and champion.uri != rollout.candidate:
        problems.append(f"the promoted candidate is {rollout.candidate}, champion {champion.uri}")
    if deployment.shadows:
        problems.append(f"deployment:{DEPLOYMENT} still mirrors traffic: {routes_text(client)}")
    newest = client.datasets.get("bikes").uri
    done = [r for r in client.features.runs(FEATURE_VIEW) if r.status == "done"]
    if not done or done[0].source != newest:
        problems.append(
            f"the online features of {FEATURE_VIEW} come from "
            f"{done[0].source if done else 'nowhere'}, not from the newest {newest}"
        )
    return problems


def _rollout_row(table: Table, client: loopml.Client, before: Any, after: Any) -> None:
    history = client.rollouts.history(after.id)
    analysis = next((h.get("analysis") for h in reversed(history) if h.get("analysis")), None) or {}
    verdict = {
        "running": f"→ {after.weight:g} %",
        "awaiting_approval": "→ approval",
        "promoted": "[green]promoted[/]",
        "rolled_back": "[red]rolled back[/]",
    }
    if before.state == "awaiting_approval":
        table.add_row("approval", "", "", "", "", "", "", verdict.get(after.state, after.state))
        return
    table.add_row(
        f"{before.weight:g} %",
        str(analysis.get("requests", "")),
        str(analysis.get("errors", "")),
        _fmt(analysis.get("p99_ms"), 0),
        analysis.get("basis") or "—",
        _fmt(analysis.get("candidate_value"), 1),
        _fmt(analysis.get("stable_value"), 1),
        verdict.get(after.state, after.state),
    )


def _estimated(estimated: Any, metric: str) -> str:
    """An estimate with its band, e.g. `61.2 (52-70)`, or why there is none."""
    if estimated is None or estimated.status != "ok" or estimated.value(metric) is None:
        return "—"
    item = estimated.metrics[metric]
    return f"{item['value']:.1f} ({item['lower']:.0f}-{item['upper']:.0f})"


def _fmt(value: Any, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def where_things_are(client: loopml.Client, started: float) -> None:
    """The closing summary: what serves now, and where its records are."""
    champion = client.models.get(f"{MODEL}@champion")
    card = WORKSPACE / "model-card.html"
    card.write_text(client.models.card_html(champion.uri))
    audit = client.audit.verify()
    console.print(
        f"  serving: deployment:{DEPLOYMENT} routes {routes_text(client)}; "
        f"{MODEL}@champion = {champion.uri}"
    )
    console.print("  lineage of the model now serving:")
    for line in client.models.lineage_text(champion.uri).splitlines():
        console.print(f"    {line}", highlight=False)
    console.print(
        f"  model card: {shown(card)}\n"
        f"  drift report: {shown(WORKSPACE / 'drift-report.html')}\n"
        f"  audit log: {audit.checked} events, "
        + ("hash chain intact" if audit.ok else f"[red]broken: {audit.reason}[/]")
        + f" (loopml -w {shown(WORKSPACE)} audit log)"
    )
    del started


def _score(column: Any) -> str:
    """A distance with two decimals, a p-value (KS, chi-square, Z on small windows) as `p=…`."""
    if column.statistic is None:
        return str(column.status)
    pvalue = column.test in ("ks", "chisquare", "z")
    text = f"p={column.statistic:.0e}" if pvalue else f"{column.statistic:.2f}"
    return f"[bold red]{text}[/]" if column.drift else text


def main(argv: list[str] | None = None) -> int:
    """Run the story; 0 when the loop closed as it says, 1 otherwise."""
    global WORKSPACE
    args = parse_args(argv)
    WORKSPACE = args.workspace.resolve()
    result_file: Path | None = args.result
    started = time.perf_counter()
    console.print(
        Panel.fit(
            "[bold]loopml demo[/]: version data → features → train and track → approve → "
            "deploy → monitor\n→ alert → retrain → gate → canary with SLOs → promote: the "
            "whole loop\n"
            "[dim]Capital Bikeshare, Washington D.C., hourly rentals 2011 (UCI, CC BY 4.0)[/]",
            border_style="cyan",
        )
    )
    client = fresh_workspace()
    console.print(f"  workspace: [bold]{WORKSPACE}[/]")

    step(1, "Load the bundled Bike Sharing data")
    bikes = load_bikeshare()
    console.print(
        f"  {len(bikes):,} hours, {bikes['timestamp'].min():%Y-%m-%d} → "
        f"{bikes['timestamp'].max():%Y-%m-%d}, target [bold]{TARGET}[/] (rentals per hour)"
    )

    step(2, "Version winter and the next batch as dataset 'bikes'")
    winter, spring = version_data(bikes)

    step(3, "What changed between the versions")
    show_diff(winter, spring)

    step(4, "Features: demand at the same hour last week, point-in-time and online")
    feature_store(client, bikes)

    step(5, f"Train a sweep of {len(CANDIDATES)} models on winter, one tracked run each")
    split = sweep(winter)

    step(6, "Pick the best run by validation R²")
    best = leaderboard(client)

    step(7, "Register the best model and promote it to champion under a policy")
    holdout = holdout_dataset(split, winter)
    register_and_approve(client, best, holdout)

    step(8, "Deploy the champion and put a monitor on it")
    deploy_and_monitor(client, holdout)

    step(9, "Replay April-August through the REST endpoint, with feedback")
    replay_months(client, bikes)

    step(10, "The monitor finds the summer drift and the drop in accuracy")
    monitor_report(client, best)

    step(11, "New labelled data; triggers refresh the features and retrain, gate, canary")
    request_id = new_data_and_retrain(client, bikes)

    step(12, "Canary 10 % → 50 % on live autumn traffic, judged on the estimate; approval")
    outcome = canary(client, bikes, request_id)

    windows: list[EstimatedWindow] = []
    if outcome.state == "promoted":
        step(13, "Ahead of the labels: the new champion's estimated RMSE, then the feedback")
        windows = ahead_of_labels(client, bikes, outcome.requests)

    problems = end_state_problems(client) + estimate_problems(outcome, windows)
    result = {
        "ok": not problems,
        "rollout": outcome.state,
        "canary_requests": outcome.requests,
        "canary_s": round(outcome.seconds, 3),
        "champion": client.models.get(f"{MODEL}@champion").uri,
        "routes": [r.to_dict() for r in client.deployments.get(DEPLOYMENT).routes],
        "problems": problems,
    }
    if not problems:
        step(14, "The loop is closed")
        where_things_are(client, started)
    client.close()
    loopml.set_client(None)
    result["seconds"] = round(time.perf_counter() - started, 3)
    if result_file is not None:
        result_file.write_text(json.dumps(result, indent=2), encoding="utf-8")
    console.print()
    if problems:
        console.print(
            Panel.fit(
                "[bold red]The loop did not close as the story says:[/]\n"
                + "\n".join(f"- {p}" for p in problems)
                + f"\nWorkspace kept for inspection: [bold]{WORKSPACE}[/]",
                border_style="red",
            )
        )
        return 1
    ws = shown(WORKSPACE)
    console.print(
        Panel.fit(
            f"Done in {result['seconds']:.1f} s. Workspace: [bold]{WORKSPACE}[/]\n"
            f"Try: [bold]loopml -w {ws} monitor show bikes-health[/]\n"
            f"     [bold]loopml -w {ws} monitor show {FEATURE_MONITOR}[/]\n"
            f"     [bold]loopml -w {ws} rollout status[/]\n"
            f"     [bold]loopml -w {ws} trigger events[/]\n"
            f"     [bold]loopml -w {ws} models lineage model:{MODEL}@champion[/]",
            border_style="green",
        )
    )
    return 0


def shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The whole loopml loop on bundled data.")
    parser.add_argument(
        "--workspace", type=Path, default=WORKSPACE, help="where to work (recreated)"
    )
    parser.add_argument(
        "--result", type=Path, default=None, help="write the end state as JSON to this file"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
