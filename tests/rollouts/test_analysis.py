"""Fair canary analysis on real data: the Wisconsin breast-cancer data shipped with
scikit-learn (a classifier judged by ROC AUC) and the bundled Bike Sharing hours (a
regressor judged by RMSE).

Each test reproduces a wrong answer a canary used to give — a step passed on a window with
one class, a 100 % step judged against the stable's figure from an earlier period, a
rolled-back candidate left promotable — and shows the answer it gives now. The logged
answers are the registered models' own predictions on the data; traffic is written to the
real prediction log with chosen timestamps and `advance` is given `now=`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, root_mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.deployments import Route
from loopml.errors import ConflictError
from loopml.governance import list_events
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.registry import ModelVersion
from loopml.rollouts import RolloutPlan
from loopml.rollouts.analysis import judge_quality
from loopml.samples import bikeshare_features, load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.deployments.helpers import BikeHours, register_ridge

API = "tumours-api"
_ids = itertools.count()


@dataclass(frozen=True)
class Served:
    """A registered version and the fitted model that answers for it."""

    uri: str
    model: Any
    classifier: bool = False


@dataclass(frozen=True)
class Tumours:
    """Breast-cancer biopsies: the first 300 train, the rest are live traffic.
    Label 0 is malignant, 1 benign."""

    train_x: pd.DataFrame
    train_y: pd.Series
    live_x: pd.DataFrame
    live_y: pd.Series

    def rows(self, label: int, count: int, skip: int = 0) -> tuple[pd.DataFrame, pd.Series]:
        """`count` live rows of one class (after skipping `skip` of them)."""
        chosen = self.live_y[self.live_y == label].index[skip : skip + count]
        return self.live_x.loc[chosen], self.live_y.loc[chosen]

    def mixed(self, benign: int, malignant: int, skip: int = 0) -> tuple[pd.DataFrame, pd.Series]:
        b_x, b_y = self.rows(1, benign, skip)
        m_x, m_y = self.rows(0, malignant, skip)
        return pd.concat([b_x, m_x]), pd.concat([b_y, m_y])


@cache
def tumours() -> Tumours:
    data = load_breast_cancer(as_frame=True)
    x, y = data.data, data.target
    return Tumours(x.iloc[:300], y.iloc[:300], x.iloc[300:], y.iloc[300:])


def register_classifier(client: Client, strength: float) -> Served:
    """A scaled logistic regression (inverse regularisation `strength`), registered."""
    data = tumours()
    with client.start_run("tumours", f"logreg-{strength:g}", capture_code=False) as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=2000))
        model.fit(data.train_x, data.train_y)
        version = run.log_model(
            model, name="tumours", input_example=data.train_x.head(20), register=True
        )
    assert isinstance(version, ModelVersion)
    return Served(version.uri, model, classifier=True)


def serve(
    client: Client,
    deployment: str,
    x: pd.DataFrame,
    y: pd.Series,
    start: float,
    answers: list[tuple[Served, bool]],
) -> None:
    """Each row is one request, answered by every (version, shadow) of `answers` under one
    request id, then labelled with its truth (posted as feedback)."""
    with PredictionLog(client.stores) as log:
        for i, ((_, row), truth) in enumerate(zip(x.iterrows(), y.tolist(), strict=True)):
            request_id = f"req-{next(_ids)}"
            frame = row.to_frame().T
            at = start + i * 0.01
            for served, shadow in answers:
                proba = served.model.predict_proba if served.classifier else None
                log.record(
                    PredictionRecord(
                        deployment=deployment,
                        request_id=request_id,
                        model=served.uri,
                        inputs=[{k: float(v) for k, v in row.items()}],
                        outputs=[served.model.predict(frame)[0].item()],
                        probabilities=None if proba is None else proba(frame).tolist(),
                        latency_ms=4.0,
                        shadow=shadow,
                        at=at + (0.002 if shadow else 0.0),
                    )
                )
            log.record_feedback(deployment, request_id, truth, at=at + 0.005)


def split(
    client: Client,
    deployment: str,
    x: pd.DataFrame,
    y: pd.Series,
    start: float,
    candidate: Served,
    stable: Served,
) -> None:
    """A split step: alternate rows to the candidate and to the stable."""
    serve(client, deployment, x.iloc[0::2], y.iloc[0::2], start, [(candidate, False)])
    serve(client, deployment, x.iloc[1::2], y.iloc[1::2], start + 0.001, [(stable, False)])


def auc(served: Served, x: pd.DataFrame, y: pd.Series) -> float:
    return float(roc_auc_score(y, served.model.predict_proba(x)[:, 1]))


@pytest.fixture
def classifiers(client: Client) -> tuple[Served, Served]:
    """v1 (stable) and v2 (candidate) of `tumours`, deployed on v1."""
    stable, candidate = register_classifier(client, 1.0), register_classifier(client, 0.5)
    client.deployments.create(API, stable.uri)
    return stable, candidate


AUC_PLAN = RolloutPlan(
    steps=(50, 100),
    hold_s=60,
    min_requests=20,
    min_labelled=20,
    min_per_class=10,
    metric="roc_auc",
)


# ---------------------------------------------------------------------- one class, few positives
def test_a_window_with_one_class_waits_instead_of_passing(
    client: Client, classifiers: tuple[Served, Served]
) -> None:
    stable, candidate = classifiers
    client.models.set_policy("tumours", {"auto_approve": True})
    rollout = client.rollouts.start(API, "tumours/2", AUC_PLAN)
    started = rollout.step_started_at or 0
    benign_x, benign_y = tumours().rows(1, 60)
    split(client, API, benign_x, benign_y, started + 1, candidate, stable)

    waited = client.rollouts.advance(API, now=started + 65)
    # This window once passed with "roc_auc cannot be computed on these labels".
    assert waited.action == "wait" and waited.analysis is not None
    assert waited.analysis.failures == [] and not waited.analysis.passed
    assert waited.waiting_for == [
        "the labels of this window hold one class (1): a classifier's quality cannot be "
        "compared on them"
    ]
    assert client.rollouts.get(API).revision == waited.rollout.revision  # nothing written
    assert [r.uri for r in client.deployments.get(API).routes] == [stable.uri, candidate.uri]

    # Malignant cases arrive: the same window can now be judged, and it passes.
    x, y = tumours().rows(0, 40)
    split(client, API, x, y, started + 10, candidate, stable)
    judged = client.rollouts.advance(API, now=started + 70)
    assert judged.action == "step" and judged.analysis is not None and judged.analysis.passed
    everything_x = pd.concat([benign_x.iloc[0::2], x.iloc[0::2]])
    everything_y = pd.concat([benign_y.iloc[0::2], y.iloc[0::2]])
    assert judged.analysis.candidate_value == pytest.approx(
        auc(candidate, everything_x, everything_y)
    )
    assert (judged.analysis.candidate_labelled, judged.analysis.stable_labelled) == (50, 50)


def test_too_few_positives_waits_and_says_how_many(
    client: Client, classifiers: tuple[Served, Served]
) -> None:
    stable, candidate = classifiers
    rollout = client.rollouts.start(API, "tumours/2", AUC_PLAN)
    started = rollout.step_started_at or 0
    x, y = tumours().mixed(benign=60, malignant=8)  # 4 malignant per side
    split(client, API, x, y, started + 1, candidate, stable)
    waited = client.rollouts.advance(API, now=started + 65)
    assert waited.action == "wait"
    assert waited.waiting_for == [
        "too few labelled predictions of a class in this window (0: 4 candidate / 4 stable), "
        "10 needed of each class on each side"
    ]


# ---------------------------------------------------------------------- the same window
def test_at_100_percent_the_stable_is_scored_on_the_same_requests_not_an_earlier_period(
    client: Client, hours: BikeHours
) -> None:
    stable_version = register_ridge(client, hours, "bikes", alpha=1.0)
    candidate_version = register_ridge(client, hours, "bikes", alpha=2.0)
    stable = Served(stable_version.uri, client.models.registry.load(stable_version.uri))
    candidate = Served(candidate_version.uri, client.models.registry.load(candidate_version.uri))
    client.deployments.create("bikes-api", stable.uri)
    client.models.set_policy("bikes", {"auto_approve": True})
    bikes = bike_months()
    plan = RolloutPlan(steps=(50, 100), hold_s=60, min_requests=20, min_labelled=20)
    rollout = client.rollouts.start("bikes-api", "bikes/2", plan)
    # The stable's winter traffic just before the rollout: the figure it was once judged by.
    winter_x, winter_y = bikes["winter"]
    serve(client, "bikes-api", winter_x, winter_y, rollout.created_at - 30, [(stable, False)])

    april_x, april_y = bikes["april"]
    started = rollout.step_started_at or 0
    split(client, "bikes-api", april_x, april_y, started + 1, candidate, stable)
    first = client.rollouts.advance("bikes-api", now=started + 65)
    assert first.action == "step" and first.rollout.weight == 100
    deployment = client.deployments.get("bikes-api")
    assert deployment.routes == [Route("bikes", 2, 100)]
    assert deployment.shadows == [Route("bikes", 1, 100)]  # the stable mirrors the traffic

    # July at 100 %: while the stable's mirrored answers are missing, the step waits. It
    # once rolled back here, comparing the candidate's July against the stable's winter.
    july_x, july_y = bikes["july"]
    started = first.rollout.step_started_at or 0
    serve(client, "bikes-api", july_x[:30], july_y[:30], started + 1, [(candidate, False)])
    waited = client.rollouts.advance("bikes-api", now=started + 65)
    assert waited.action == "wait" and waited.analysis is not None
    assert waited.analysis.stable_labelled == 0
    unfair = rmse(candidate, july_x[:30], july_y[:30]) / rmse(stable, winter_x, winter_y)
    assert unfair > 1.5  # the earlier period would have failed the 5 % limit

    both = [(candidate, False), (stable, True)]
    serve(client, "bikes-api", july_x[30:], july_y[30:], started + 5, both)
    done = client.rollouts.advance("bikes-api", now=started + 70)
    assert done.action == "promote", done.rollout.reasons
    analysis = done.analysis
    assert analysis is not None and analysis.stable_labelled == len(july_x) - 30
    assert analysis.stable_value == pytest.approx(rmse(stable, july_x[30:], july_y[30:]))
    assert analysis.candidate_value == pytest.approx(rmse(candidate, july_x, july_y))
    assert client.deployments.get("bikes-api").shadows == []


def rmse(served: Served, x: pd.DataFrame, y: pd.Series) -> float:
    return float(root_mean_squared_error(y, served.model.predict(x)))


@cache
def bike_months() -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """60 hours of winter, 80 of April and 90 of July, as model inputs and the target."""
    frame = load_bikeshare()
    picked = {"winter": ([2], 60), "april": ([4], 80), "july": ([7], 90)}
    months = {}
    for name, (month, count) in picked.items():
        rows = split_by_months(frame, month).sort_values("timestamp").iloc[200 : 200 + count]
        months[name] = (bikeshare_features(rows), rows["bikers"].astype(float))
    return months


# ---------------------------------------------------------------------- after a rollback
@pytest.fixture
def approver(client: Client, tmp_path: Path, make_client: Callable[..., Client]) -> Client:
    client.models.identity.create_principal("alice", "approver")
    token = client.models.identity.create_token("alice", label="tests")
    return make_client(root=tmp_path / "ws", token=token)


def test_a_rollback_closes_the_champion_request_and_clears_challenger(
    client: Client, hours: BikeHours, approver: Client
) -> None:
    good = register_ridge(client, hours, "bikes", alpha=1.0)
    flat = register_ridge(client, hours, "bikes", alpha=1e5)  # nearly the mean: much worse
    stable = Served(good.uri, client.models.registry.load(good.uri))
    candidate = Served(flat.uri, client.models.registry.load(flat.uri))
    client.deployments.create("bikes-api", stable.uri)
    client.models.set_policy(
        "bikes", {"required_approvals": 1, "four_eyes": True, "independent_approvers": False}
    )
    client.models.registry.set_alias("bikes", "challenger", 2)  # as a validation gate does
    request = client.models.request("bikes/2", reason="validation gate passed")
    assert request.status == "PENDING"

    plan = RolloutPlan(steps=(50, 100), hold_s=60, min_requests=20, min_labelled=20)
    rollout = client.rollouts.start("bikes-api", "bikes/2", plan)
    started = rollout.step_started_at or 0
    april_x, april_y = bike_months()["april"]
    split(client, "bikes-api", april_x, april_y, started + 1, candidate, stable)
    failed = client.rollouts.advance("bikes-api", now=started + 65)

    assert failed.action == "rollback" and failed.rollout.state == "rolled_back"
    assert failed.rollout.reasons[0].startswith("rmse ")
    assert failed.rollout.reasons[1:] == [
        f"approval request {request.id} (champion → model:bikes/2) is closed",
        "bikes@challenger no longer points at model:bikes/2",
    ]
    closed = client.models.approvals.get(request.id)
    assert closed.status == "REJECTED"
    assert closed.outcome is not None
    assert closed.outcome.startswith(f"rollout {rollout.id} rolled back: rmse ")
    assert "challenger" not in client.models.model("bikes").aliases
    with pytest.raises(ConflictError, match="already REJECTED"):
        approver.models.approvals.approve(request.id, "looks fine to me")
    assert "champion" not in client.models.model("bikes").aliases
    withdrawn = list_events(client.stores.engine, obj=f"request:{request.id}")
    assert [e.action for e in withdrawn][-1] == "approval.withdraw"
    assert client.deployments.get("bikes-api").routes == [Route("bikes", 1, 100)]


# ---------------------------------------------------------------------- undecided by a deadline
def _undecided(client: Client, plan: RolloutPlan, classifiers: tuple[Served, Served]) -> float:
    """Start a rollout whose first step only ever sees benign cases; returns its start."""
    stable, candidate = classifiers
    rollout = client.rollouts.start(API, "tumours/2", plan)
    started = rollout.step_started_at or 0
    x, y = tumours().rows(1, 60)
    split(client, API, x, y, started + 1, candidate, stable)
    assert client.rollouts.advance(API, now=started + 599).action == "wait"
    return started


def test_undecided_past_the_deadline_rolls_back_when_the_plan_says_so(
    client: Client, classifiers: tuple[Served, Served]
) -> None:
    plan = RolloutPlan(**{**AUC_PLAN.to_dict(), "on_undecided": "rollback", "decide_within_s": 600})
    started = _undecided(client, plan, classifiers)
    ended = client.rollouts.advance(API, now=started + 600)
    assert ended.action == "rollback"
    assert ended.rollout.reasons == [
        "step 1 (50%) could not be judged within 600 s: the labels of this window hold one "
        "class (1): a classifier's quality cannot be compared on them"
    ]
    assert client.deployments.get(API).routes == [Route("tumours", 1, 100)]


def test_undecided_past_the_deadline_holds_by_default(
    client: Client, classifiers: tuple[Served, Served]
) -> None:
    plan = RolloutPlan(**{**AUC_PLAN.to_dict(), "decide_within_s": 600})
    started = _undecided(client, plan, classifiers)
    held = client.rollouts.advance(API, now=started + 10_000)
    assert held.action == "wait" and held.rollout.state == "running"
    assert held.waiting_for[-1] == (
        "undecided past the 600 s deadline: the plan holds (on_undecided=hold)"
    )


def test_undecided_past_the_deadline_asks_an_approver(
    client: Client, classifiers: tuple[Served, Served], approver: Client
) -> None:
    client.models.set_policy(
        "tumours", {"required_approvals": 1, "four_eyes": True, "independent_approvers": False}
    )
    plan = RolloutPlan(**{**AUC_PLAN.to_dict(), "on_undecided": "ask", "decide_within_s": 600})
    started = _undecided(client, plan, classifiers)
    asked = client.rollouts.advance(API, now=started + 600)
    assert asked.action == "step" and asked.rollout.state == "awaiting_approval"
    request = client.models.approvals.get(asked.rollout.approval_id or "")
    assert request.status == "PENDING" and request.reason is not None
    assert "could not be judged within 600 s" in request.reason
    assert "approve to promote it, reject to roll it back" in request.reason
    routes = client.deployments.get(API).routes
    assert routes == [Route("tumours", 1, 50), Route("tumours", 2, 50)]  # held where it was

    approver.models.approvals.approve(request.id, "the benign cases look right")
    done = client.rollouts.advance(API)
    assert done.action == "promote" and done.rollout.state == "promoted"
    assert client.deployments.get(API).routes == [Route("tumours", 2, 100)]
    assert client.models.get("tumours@champion").version == 2


def test_ask_never_lets_an_automatic_approval_promote_an_unjudged_step(
    client: Client, classifiers: tuple[Served, Served]
) -> None:
    client.models.set_policy("tumours", {"auto_approve": True})
    plan = RolloutPlan(**{**AUC_PLAN.to_dict(), "on_undecided": "ask", "decide_within_s": 600})
    started = _undecided(client, plan, classifiers)
    held = client.rollouts.advance(API, now=started + 600)
    assert held.action == "wait" and held.rollout.state == "running"
    assert held.waiting_for[-1] == (
        "on_undecided=ask, but the policy of tumours approves champion moves automatically: "
        "holding until the step can be judged"
    )
    assert "champion" not in client.models.model("tumours").aliases


def test_the_class_counts_use_every_class_of_the_wine_data() -> None:
    """Three cultivars (scikit-learn's wine data): a class missing on one side waits."""
    data = load_wine(as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(data.data, data.target)
    frame = pd.DataFrame(
        {
            "prediction": model.predict(data.data),
            "label": data.target.to_numpy(),
            **{f"proba_{i}": p for i, p in enumerate(model.predict_proba(data.data).T)},
        }
    )
    plan = RolloutPlan(metric="roc_auc", min_labelled=20, min_per_class=5)
    no_third = frame[frame["label"] != 2]
    waiting = judge_quality(plan, frame, no_third)
    assert waiting.check.status == "undecided"
    assert "2: 48 candidate / 0 stable" in waiting.check.message
    judged = judge_quality(plan, frame.iloc[0::2], frame.iloc[1::2])
    assert judged.check.status == "passed" and judged.metric == "roc_auc"
    assert judged.candidate == pytest.approx(
        roc_auc_score(
            frame["label"].iloc[0::2],
            frame[["proba_0", "proba_1", "proba_2"]].iloc[0::2].to_numpy(),
            multi_class="ovr",
        )
    )
    assert np.isfinite(judged.stable or np.nan)
