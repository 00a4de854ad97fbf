"""Canary steps judged on estimated performance while labels lag (`judge_by`).

Real regressors are trained on the first months of the bundled bike data, their hold-out is
a labelled dataset version, and the step's traffic is their real answers to later hours,
written to the prediction log with no feedback — or with feedback, to show labels take
precedence once there are enough.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from loopml.errors import ValidationError
from loopml.monitoring.estimation.estimate import Estimate
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.registry import ModelVersion
from loopml.rollouts import RolloutPlan
from loopml.rollouts.estimate_verdict import Bands, judge_estimates
from loopml.samples import TARGET, bikeshare_features, load_bikeshare
from loopml.sdk import Client
from loopml.sdk.remote import ops_records

NAME = "bikes-api"
HOLD = 60.0
_ids = itertools.count()


@dataclass(frozen=True)
class Hours:
    """Train, hold-out (the reference) and served hours of Jan-Apr, in time order."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    served: pd.DataFrame


@pytest.fixture(scope="module")
def hours() -> Hours:
    frame = load_bikeshare().sort_values("timestamp", ignore_index=True)
    early = frame[frame["timestamp"].dt.month <= 4].reset_index(drop=True)
    a, b = int(len(early) * 0.6), int(len(early) * 0.8)
    return Hours(early.iloc[:a], early.iloc[a:b], early.iloc[b:].reset_index(drop=True))


def _register(client: Client, hours: Hours, name: str, scale: float = 1.0) -> ModelVersion:
    """A Ridge on the training hours; with `scale` it learns that multiple of the demand (at
    -1, the opposite: a clearly worse model, as a sign error in a feature pipeline makes)."""
    x = bikeshare_features(hours.train)
    with client.start_run("bikes", name, capture_code=False) as run:
        model = Ridge(alpha=1.0).fit(x, hours.train[TARGET].astype(float) * scale)
        version = run.log_model(model, name="bikes", input_example=x.head(20), register=True)
    assert isinstance(version, ModelVersion)
    return version


def _holdout(client: Client, hours: Hours) -> str:
    labelled = bikeshare_features(hours.holdout).assign(
        **{TARGET: hours.holdout[TARGET].astype(float).to_numpy()}
    )
    return client.log_dataset("bikes-holdout", labelled).uri


def _serve(
    client: Client,
    version: ModelVersion,
    rows: pd.DataFrame,
    start: float,
    *,
    labels: bool = False,
    shadow: bool = False,
) -> None:
    """`version`'s real answers to `rows`, one request each, feedback only with `labels`."""
    x = bikeshare_features(rows)
    records: list[dict[str, Any]] = x.to_dict(orient="records")  # type: ignore[assignment]
    predicted = client.models.registry.load(version).predict(x)
    with PredictionLog(client.stores) as log:
        for i, (record, answer, truth) in enumerate(
            zip(records, predicted, rows[TARGET], strict=True)
        ):
            request_id = f"req-{next(_ids)}"
            log.record(
                PredictionRecord(
                    deployment=NAME,
                    request_id=request_id,
                    model=version.uri,
                    inputs=[record],
                    outputs=[float(answer)],
                    probabilities=None,
                    latency_ms=5.0,
                    shadow=shadow,
                    at=start + i * 0.01,
                )
            )
            if labels:
                log.record_feedback(NAME, request_id, float(truth), at=start + i * 0.01 + 0.001)


def _plan(**options: object) -> RolloutPlan:
    values: dict[str, object] = {
        "steps": (10, 100),
        "hold_s": HOLD,
        "min_requests": 50,
        "min_labelled": 50,
        "max_accuracy_drop": 0.3,
        "judge_by": "labels_or_estimate",
    }
    values.update(options)
    return RolloutPlan(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Setup:
    client: Client
    stable: ModelVersion
    candidate: ModelVersion
    reference: str


def _setup(client: Client, hours: Hours, *, worse: bool) -> Setup:
    stable = _register(client, hours, "stable")
    candidate = _register(client, hours, "candidate", scale=-1.0 if worse else 1.0)
    client.deployments.create(NAME, stable.uri)
    client.models.set_policy("bikes", {"auto_approve": True})
    return Setup(client, stable, candidate, _holdout(client, hours))


def _step(setup: Setup, started: float, served: pd.DataFrame, *, labels: bool = False) -> None:
    """One step window: the candidate answers a tenth of the hours, the stable the rest."""
    tenth = len(served) // 10
    _serve(setup.client, setup.candidate, served.iloc[:tenth], started + 1, labels=labels)
    _serve(setup.client, setup.stable, served.iloc[tenth:], started + 1, labels=labels)


def test_a_clearly_worse_candidate_is_rolled_back_on_the_estimate_with_no_label(
    client: Client, hours: Hours
) -> None:
    setup = _setup(client, hours, worse=True)
    plan = _plan(estimate_reference="dataset:bikes-holdout", estimate_target=TARGET)
    rollout = client.rollouts.start(NAME, setup.candidate.uri, plan)
    assert rollout.plan.estimate_reference == setup.reference  # pinned to the exact version
    started = rollout.step_started_at or 0.0
    _step(setup, started, hours.served)

    step = client.rollouts.advance(NAME, now=started + HOLD + 5)

    assert step.action == "rollback" and step.rollout.state == "rolled_back", step.waiting_for
    analysis = step.analysis
    assert analysis is not None and analysis.basis == "estimate"
    assert (analysis.candidate_labelled, analysis.stable_labelled) == (0, 0)
    estimated = analysis.estimated
    assert estimated is not None and estimated.method == "dle" and estimated.metric == "rmse"
    assert estimated.status == "failed" and (estimated.rollback_bound or 0) > 0
    assert (estimated.candidate.value or 0) > (estimated.allowed or 0)
    assert estimated.candidate.rows == len(hours.served) // 10
    assert "on the estimate (DLE" in step.rollout.reasons[0]
    [recorded] = [h for h in client.rollouts.history(rollout.id) if h["action"] == "rollback"]
    assert recorded["analysis"]["basis"] == "estimate"
    assert recorded["analysis"]["estimated"]["status"] == "failed"
    # What the server sends is read back as the same record (remote mode).
    assert ops_records.rollout_step(json.loads(json.dumps(step.to_dict()))) == step


def test_a_candidate_as_good_is_promoted_on_the_estimate_from_its_stored_evaluation(
    client: Client, hours: Hours
) -> None:
    setup = _setup(client, hours, worse=False)
    client.models.evaluations.evaluate(setup.candidate.uri, setup.reference, TARGET)
    rollout = client.rollouts.start(NAME, setup.candidate.uri, _plan())
    assert (rollout.plan.estimate_reference, rollout.plan.estimate_target) == (
        setup.reference,
        TARGET,
    )
    started = rollout.step_started_at or 0.0
    _step(setup, started, hours.served)
    stepped = client.rollouts.advance(NAME, now=started + HOLD + 5)
    assert stepped.action == "step" and stepped.analysis is not None
    assert stepped.analysis.basis == "estimate" and stepped.analysis.passed

    last = client.rollouts.get(NAME).step_started_at or 0.0
    x = hours.served  # at 100 % the stable answers a mirrored copy of every request
    _serve(client, setup.candidate, x, last + 1)
    _serve(client, setup.stable, x, last + 1, shadow=True)
    promoted = client.rollouts.advance(NAME, now=last + HOLD + 5)

    assert promoted.action == "promote" and promoted.rollout.state == "promoted"
    assert promoted.analysis is not None and promoted.analysis.basis == "estimate"
    estimated = promoted.analysis.estimated
    assert estimated is not None and estimated.status == "passed"
    assert (estimated.promote_bound or 0) < 0
    assert estimated.reference == setup.reference


def test_a_plan_that_judges_by_labels_waits_for_them(client: Client, hours: Hours) -> None:
    setup = _setup(client, hours, worse=True)
    rollout = client.rollouts.start(NAME, setup.candidate.uri, _plan(judge_by="labels"))
    started = rollout.step_started_at or 0.0
    _step(setup, started, hours.served)

    waited = client.rollouts.advance(NAME, now=started + HOLD + 5)

    assert waited.action == "wait" and waited.rollout.state == "running"
    assert waited.analysis is not None and waited.analysis.basis == "labels"
    assert waited.analysis.estimated is None
    assert waited.waiting_for[0].startswith("not enough feedback yet: 0 labelled candidate")


def test_enough_labels_take_precedence_over_the_estimate(client: Client, hours: Hours) -> None:
    setup = _setup(client, hours, worse=True)
    plan = _plan(estimate_reference=setup.reference)
    rollout = client.rollouts.start(NAME, setup.candidate.uri, plan)
    started = rollout.step_started_at or 0.0
    _step(setup, started, hours.served, labels=True)

    step = client.rollouts.advance(NAME, now=started + HOLD + 5)

    assert step.action == "rollback" and step.analysis is not None
    assert step.analysis.basis == "labels" and step.analysis.estimated is None
    assert step.analysis.candidate_labelled == len(hours.served) // 10
    assert step.rollout.reasons[0].startswith("rmse ")


def test_judge_by_estimate_ignores_labels(client: Client, hours: Hours) -> None:
    setup = _setup(client, hours, worse=True)
    plan = _plan(judge_by="estimate", estimate_reference=setup.reference)
    rollout = client.rollouts.start(NAME, setup.candidate.uri, plan)
    started = rollout.step_started_at or 0.0
    _step(setup, started, hours.served, labels=True)

    step = client.rollouts.advance(NAME, now=started + HOLD + 5)

    assert step.action == "rollback" and step.analysis is not None
    assert step.analysis.basis == "estimate" and step.analysis.estimated is not None


def test_a_rollout_that_cannot_be_estimated_is_refused_at_start(
    client: Client, hours: Hours
) -> None:
    setup = _setup(client, hours, worse=False)
    with pytest.raises(ValidationError, match="has no stored evaluation: evaluate it"):
        client.rollouts.start(NAME, setup.candidate.uri, _plan())
    with pytest.raises(ValidationError, match="is not a dataset version"):
        client.rollouts.start(NAME, setup.candidate.uri, _plan(estimate_reference="dataset:nope"))
    inputs_only = client.log_dataset("inputs-only", bikeshare_features(hours.holdout))
    with pytest.raises(ValidationError, match=r"ambiguous .*estimate_target"):
        client.rollouts.start(NAME, setup.candidate.uri, _plan(estimate_reference=inputs_only.uri))
    with pytest.raises(ValidationError, match="no target column 'bikers'"):
        client.rollouts.start(
            NAME,
            setup.candidate.uri,
            _plan(estimate_reference=inputs_only.uri, estimate_target=TARGET),
        )
    unlabelled = client.log_dataset(
        "unlabelled", bikeshare_features(hours.holdout).assign(**{TARGET: np.nan})
    )
    with pytest.raises(ValidationError, match="has no row with a value in 'bikers'"):
        client.rollouts.start(NAME, setup.candidate.uri, _plan(estimate_reference=unlabelled.uri))
    assert client.rollouts.list() == []  # nothing was started
    assert [r.uri for r in client.deployments.get(NAME).routes] == [setup.stable.uri]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"judge_by": "guess"}, "judge_by must be 'labels'"),
        ({"judge_by": None}, "judge_by must be 'labels'"),
        ({"judge_by": "labels", "estimate_reference": "dataset:x@1"}, "judges by labels only"),
        ({"estimate_target": "cnt"}, "set estimate_reference too"),
        ({"estimate_reference": ""}, "estimate_reference must be text"),
        ({"estimate_reference": 3}, "estimate_reference must be text"),
        ({"max_accuracy_drop": None}, "set max_accuracy_drop"),
        ({"metric": "r2"}, "cannot be estimated without labels"),
        ({"metric": "log_loss"}, "cannot be estimated without labels"),
    ],
)
def test_invalid_settings_are_refused_with_what_to_do(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _plan(**options)
    with pytest.raises(ValidationError, match=message):
        RolloutPlan.from_dict({"judge_by": "labels_or_estimate", **options})


def test_the_plan_round_trips_with_its_basis() -> None:
    plan = _plan(estimate_reference="dataset:h@1", estimate_target="cnt", judge_by="estimate")
    assert RolloutPlan.from_dict(plan.to_dict()) == plan
    assert plan.judges_by_estimate and not RolloutPlan().judges_by_estimate


def _bands(value: float, half: float) -> Bands:
    band = Estimate(value, value - half, value + half)
    return Bands(band, band)


@pytest.mark.parametrize(
    ("metric", "candidate", "stable", "status"),
    [
        ("rmse", _bands(50, 1), _bands(50, 1), "passed"),  # as good, narrow bands
        ("rmse", _bands(50, 10), _bands(50, 10), "undecided"),  # as good, bands too wide
        ("rmse", _bands(80, 2), _bands(50, 2), "failed"),  # far beyond 1.05 x 50
        ("rmse", _bands(52, 2), _bands(50, 2), "undecided"),  # within, but not shown so
        ("accuracy", _bands(0.90, 0.01), _bands(0.90, 0.01), "passed"),
        ("accuracy", _bands(0.70, 0.01), _bands(0.90, 0.01), "failed"),
    ],
)
def test_the_verdict_reads_the_bands_and_the_margin(
    metric: str, candidate: Bands, stable: Bands, status: str
) -> None:
    verdict, allowed, promote, rollback, message = judge_estimates(metric, 0.05, candidate, stable)
    assert verdict == status, message
    assert allowed == pytest.approx(52.5 if metric == "rmse" else 0.85)
    assert promote is not None and rollback is not None and promote > rollback
    assert np.isfinite(promote)
