"""`loopml rollout …`: progressive rollouts — start one, watch it, advance it by hand, abort."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from loopml.cli.context import operations_of
from loopml.cli.deploy import routes_table
from loopml.cli.render import NONE, console, key_value_table, print_json, value, when
from loopml.errors import ValidationError
from loopml.monitoring.definition import parse_duration
from loopml.rollouts import Rollout, RolloutPlan, RolloutStep, StepAnalysis
from loopml.rollouts.plan import parse_steps

rollout_app = typer.Typer(
    help="Progressive rollouts: canary steps held and checked against SLOs, then promotion "
    "through the approval rules, or an automatic rollback.",
    no_args_is_help=True,
)

NAME_HELP = "The deployment's name."
JSON_HELP = "Print JSON instead of tables."
STATE_STYLES = {
    "running": "yellow",
    "awaiting_approval": "cyan",
    "promoted": "green",
    "rolled_back": "red",
    "aborted": "magenta",
}
ACTION_STYLES = {"wait": "dim", "rollback": "red", "abort": "magenta", "promote": "green"}


def _epilog(*examples: str) -> str:
    return "[bold]Examples[/bold]\n\n" + "\n".join(f"  {e}" for e in examples)


def _limit(text: str | None, name: str, default: float | None) -> float | None:
    """A number, `off` (no such SLO) or nothing (the plan's default)."""
    if text is None:
        return default
    if text.strip().lower() == "off":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"{name} must be a number or 'off', got {text!r}") from None


def _seconds(text: str | None, name: str, default: float | None) -> float | None:
    if text is None:
        return default
    if text.strip() in ("0", "0s"):
        return 0.0
    return parse_duration(text, name)


# ---------------------------------------------------------------------- views
def _state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def _steps(rollout: Rollout) -> str:
    steps = rollout.plan.steps
    return " → ".join(
        f"[{s:g}%]" if i == rollout.step and rollout.active else f"{s:g}%"
        for i, s in enumerate(steps)
    )


def _plan(plan: RolloutPlan) -> str:
    parts = [f"hold {value(plan.hold_s)} s", f"≥ {plan.min_requests} requests"]
    if plan.max_error_rate is not None:
        parts.append(f"errors ≤ {plan.max_error_rate:.2%}")
    if plan.max_p99_ms is not None:
        parts.append(f"p99 ≤ {plan.max_p99_ms:g} ms")
    if plan.max_accuracy_drop is not None:
        parts.append(f"{plan.metric or 'accuracy'} drop ≤ {plan.max_accuracy_drop:g}")
    if plan.timeout_s is not None:
        parts.append(f"timeout {value(plan.timeout_s)} s")
    if plan.decide_within_s is not None:
        parts.append(f"undecided after {value(plan.decide_within_s)} s: {plan.on_undecided}")
    if plan.judges_by_estimate:
        parts.append(
            f"judged by {plan.judge_by.replace('_', ' ')} (reference "
            f"{plan.estimate_reference or 'the candidate evaluation'}"
            + (f", target {plan.estimate_target})" if plan.estimate_target else ")")
        )
    return ", ".join(parts)


def rollout_info(rollout: Rollout) -> Table:
    return key_value_table(
        None,
        [
            ("rollout", Text(rollout.id, style="bold")),
            ("deployment", rollout.deployment),
            ("candidate", rollout.candidate),
            ("stable", rollout.stable),
            ("state", _state(rollout.state)),
            ("steps", _steps(rollout)),
            ("plan", _plan(rollout.plan)),
            ("step started", when(rollout.step_started_at)),
            ("approval", rollout.approval_id or NONE),
            ("reasons", "; ".join(rollout.reasons) or NONE),
            ("created", f"{when(rollout.created_at)} by {rollout.created_by}"),
        ],
    )


def checks_table(analysis: StepAnalysis) -> Table:
    table = Table(title_justify="left")
    for column in ("slo", "status", "detail"):
        table.add_column(column)
    styles = {"passed": "green", "failed": "red", "skipped": "dim", "undecided": "yellow"}
    for check in analysis.checks:
        table.add_row(check.name, Text(check.status, style=styles[check.status]), check.message)
    return table


def history_table(history: list[dict[str, Any]]) -> Table:
    table = Table(title_justify="left")
    for column in ("#", "action", "state", "weight", "judged on", "at", "by", "reasons"):
        table.add_column(column, justify="right" if column in ("#", "weight") else "left")
    for h in history:
        table.add_row(
            str(h["seq"]),
            h["action"],
            _state(h["state"]),
            f"{h['weight']:g}%",
            (h.get("analysis") or {}).get("basis") or NONE,
            when(h["at"]),
            h["actor"],
            "; ".join(h["reasons"]) or NONE,
        )
    return table


def _print_step(out: Console, step: RolloutStep) -> None:
    rollout = step.rollout
    out.print(
        Text.assemble(
            (step.action, ACTION_STYLES.get(step.action, "green")),
            " ",
            (rollout.uri, "bold"),
            f" on {rollout.deployment}: ",
            _state(rollout.state),
            f" at {rollout.weight:g}%",
        )
    )
    for waiting in step.waiting_for:
        out.print(Text(f"waiting for {waiting}", style="dim"))
    if step.analysis is not None:
        if step.analysis.basis is not None:
            out.print(Text(f"quality judged on {step.analysis.basis}", style="dim"))
        out.print(checks_table(step.analysis))
    if step.changed and rollout.state in ("rolled_back", "aborted", "promoted"):
        out.print(Text("; ".join(rollout.reasons), style="dim"))


# ---------------------------------------------------------------------- commands
@rollout_app.command(
    "start",
    epilog=_epilog(
        "loopml rollout start bikes-api model:bikes/4",
        "loopml rollout start bikes-api model:bikes@challenger --steps 5,25,100 --hold 10m "
        "--max-p99-ms 250",
        "loopml rollout start bikes-api model:bikes/4 --steps 100   (blue-green)",
        "loopml rollout start bikes-api model:bikes/4 --judge-by labels_or_estimate "
        "--estimate-reference dataset:bikes-holdout@2 --estimate-target bikers",
    ),
)
def start(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help=NAME_HELP, metavar="DEPLOYMENT")],
    model_ref: Annotated[
        str, typer.Argument(help="The candidate: model:NAME/VERSION or model:NAME@ALIAS.")
    ],
    steps: Annotated[
        str | None,
        typer.Option("--steps", help="Percent of traffic per step, ending at 100 [10,50,100]."),
    ] = None,
    hold: Annotated[
        str | None,
        typer.Option("--hold", help="Minimum time per step: 90s, 5m, 1h [5m].", show_default=False),
    ] = None,
    min_requests: Annotated[
        int | None,
        typer.Option("--min-requests", help="Candidate requests per step [100].", min=0),
    ] = None,
    max_error_rate: Annotated[
        str | None,
        typer.Option(
            "--max-error-rate", help="Fraction of candidate requests that may fail, or off [0.01]."
        ),
    ] = None,
    max_p99_ms: Annotated[
        str | None,
        typer.Option("--max-p99-ms", help="Candidate p99 latency limit in ms, or off [off]."),
    ] = None,
    max_accuracy_drop: Annotated[
        str | None,
        typer.Option(
            "--max-accuracy-drop",
            help="How much worse than the stable the candidate may be on feedback (rmse: "
            "fraction worse; accuracy: points lower), or off [0.05].",
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="rmse, mae, accuracy, f1, … [rmse for regression, else accuracy]."
        ),
    ] = None,
    min_labelled: Annotated[
        int | None,
        typer.Option(
            "--min-labelled", help="Labelled predictions per side to compare [30].", min=1
        ),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout", help="Fail a step that lacks requests after this long [wait forever]."
        ),
    ] = None,
    min_per_class: Annotated[
        int | None,
        typer.Option(
            "--min-per-class",
            help="Classification: labelled predictions of each class per side to compare [10].",
            min=1,
        ),
    ] = None,
    on_undecided: Annotated[
        str | None,
        typer.Option(
            "--on-undecided",
            help="hold, rollback or ask (an approver decides) when a step cannot be judged "
            "within --decide-within [hold].",
        ),
    ] = None,
    decide_within: Annotated[
        str | None,
        typer.Option(
            "--decide-within",
            help="How long a step may stay undecided before --on-undecided applies: 1h, 1d.",
        ),
    ] = None,
    quality_test: Annotated[
        str | None,
        typer.Option(
            "--quality-test",
            help="point (compare once both sides have --min-labelled labels) or sequential "
            "(wait for evidence, with the stated error rates) [point].",
        ),
    ] = None,
    require_replay: Annotated[
        bool,
        typer.Option(
            "--require-replay",
            help="Refuse to start unless the candidate has a passing replay against the "
            "stable version on this deployment.",
        ),
    ] = False,
    replay_max_age: Annotated[
        str | None,
        typer.Option("--replay-max-age", help="How recent that replay must be [7d]."),
    ] = None,
    judge_by: Annotated[
        str | None,
        typer.Option(
            "--judge-by",
            help="What judges the quality SLO: labels, labels_or_estimate (the estimated "
            "metric while labels are too few) or estimate [labels].",
        ),
    ] = None,
    estimate_reference: Annotated[
        str | None,
        typer.Option(
            "--estimate-reference",
            help="Labelled data the estimate is fitted on, e.g. dataset:bikes-holdout@2 "
            "[the candidate's newest stored evaluation].",
        ),
    ] = None,
    estimate_target: Annotated[
        str | None,
        typer.Option("--estimate-target", help="The label column of --estimate-reference."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, in a sentence (kept in the history).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Start a rollout: the first step's share of traffic goes to the candidate now."""
    default = RolloutPlan()
    plan = RolloutPlan(
        steps=default.steps if steps is None else parse_steps(steps),
        hold_s=_seconds(hold, "--hold", default.hold_s) or 0.0,
        min_requests=default.min_requests if min_requests is None else min_requests,
        max_error_rate=_limit(max_error_rate, "--max-error-rate", default.max_error_rate),
        max_p99_ms=_limit(max_p99_ms, "--max-p99-ms", default.max_p99_ms),
        max_accuracy_drop=_limit(
            max_accuracy_drop, "--max-accuracy-drop", default.max_accuracy_drop
        ),
        metric=metric,
        min_labelled=default.min_labelled if min_labelled is None else min_labelled,
        timeout_s=_seconds(timeout, "--timeout", default.timeout_s),
        min_per_class=default.min_per_class if min_per_class is None else min_per_class,
        on_undecided=on_undecided or default.on_undecided,
        decide_within_s=_seconds(decide_within, "--decide-within", default.decide_within_s),
        quality_test=quality_test or default.quality_test,
        require_replay=require_replay,
        replay_max_age_s=default.replay_max_age_s
        if replay_max_age is None
        else parse_duration(replay_max_age, "--replay-max-age"),
        judge_by=judge_by or default.judge_by,
        estimate_reference=estimate_reference,
        estimate_target=estimate_target,
    )
    client = operations_of(ctx)
    rollout = client.rollouts.start(deployment, model_ref, plan, reason=reason)
    if as_json:
        print_json(rollout.to_dict())
        return
    out = console()
    out.print(
        Text.assemble(
            ("started ", "green"),
            (rollout.uri, "bold"),
            f" of {rollout.candidate} on {rollout.deployment}: step 1/{len(plan.steps)} "
            f"({rollout.weight:g}%)",
        )
    )
    out.print(routes_table(client.deployments.get(deployment)))
    out.print(Text(f"next: loopml rollout status {deployment}", style="dim"))


@rollout_app.command(
    "status",
    epilog=_epilog("loopml rollout status", "loopml rollout status bikes-api --json"),
)
def status(
    ctx: typer.Context,
    deployment: Annotated[
        str | None,
        typer.Argument(help="A deployment (default: every rollout).", metavar="[DEPLOYMENT]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Show a deployment's rollout and its history, or list every rollout."""
    client = operations_of(ctx)
    if deployment is not None:
        rollout = client.rollouts.get(deployment)
        history = client.rollouts.history(rollout.id)
        if as_json:
            print_json({**rollout.to_dict(), "history": history})
            return
        out = console()
        out.print(rollout_info(rollout))
        out.print(history_table(history))
        return
    rollouts = client.rollouts.list()
    if as_json:
        print_json([r.to_dict() for r in rollouts])
        return
    out = console()
    if not rollouts:
        out.print("no rollouts yet: start one with `loopml rollout start DEPLOYMENT MODEL_REF`")
        return
    table = Table(title_justify="left")
    for column in ("rollout", "deployment", "candidate", "stable", "state", "steps", "updated"):
        table.add_column(column)
    for r in rollouts:
        table.add_row(
            r.id,
            r.deployment,
            r.candidate,
            r.stable,
            _state(r.state),
            _steps(r),
            when(r.updated_at, seconds=False),
        )
    out.print(table)


@rollout_app.command(
    "advance",
    epilog=_epilog("loopml rollout advance bikes-api"),
)
def advance(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help=NAME_HELP, metavar="DEPLOYMENT")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Reconcile the rollout once by hand (the controller does this on its own): analyse the
    step if it has held, then step up, promote or roll back; otherwise say what it waits for."""
    step = operations_of(ctx).rollouts.advance(deployment)
    if as_json:
        print_json(step.to_dict())
        return
    _print_step(console(), step)


@rollout_app.command(
    "abort",
    epilog=_epilog("loopml rollout abort bikes-api --reason 'support tickets are piling up'"),
)
def abort(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help=NAME_HELP, metavar="DEPLOYMENT")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, in a sentence (required).", show_default=False)
    ],
) -> None:
    """Stop the active rollout and send all traffic back to the stable version."""
    client = operations_of(ctx)
    rollout = client.rollouts.abort(deployment, reason)
    out = console()
    out.print(Text.assemble(("aborted ", "magenta"), (rollout.uri, "bold"), f": {reason}"))
    out.print(routes_table(client.deployments.get(deployment)))
