"""Where a rollout's estimate comes from: the labelled reference, the fitted estimators of
the candidate and the stable, and their estimates over a step's window.

The reference is labelled data the estimators learn each model's errors on. A plan names it
(`estimate_reference`, `estimate_target`); otherwise it is the candidate's newest stored
evaluation (`loopml models evaluate`, or the pipeline gate), whose dataset and target say
on what labelled data the candidate was judged. Both sides are fitted on the same reference,
which should be data neither model trained on: a model's errors on its own training rows
are smaller than anywhere else, so its estimate would be too kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from loopml.data import DatasetService, DatasetVersion
from loopml.errors import NotFoundError, ValidationError
from loopml.monitoring.estimated import FittedEstimator, fit_estimator
from loopml.monitoring.estimation.estimate import Estimate
from loopml.registry import ModelVersion, RegistryService
from loopml.registry.evaluation import stored_evaluations
from loopml.rollouts.estimate_verdict import (
    DEFAULT_METRIC,
    METHOD_METRICS,
    Bands,
    EstimatedQuality,
    EstimatedSide,
    judge_estimates,
)
from loopml.rollouts.plan import RolloutPlan

NO_ESTIMATE = Estimate(None, None, None)


@dataclass(frozen=True)
class EstimateReference:
    """The labelled data both sides' estimators are fitted on."""

    dataset: DatasetVersion
    target: str


class StepEstimates:
    """Fits (once per model and reference) and applies the estimators of a rollout."""

    def __init__(self, datasets: DatasetService, registry: RegistryService) -> None:
        self.datasets = datasets
        self.registry = registry
        self._fitted: dict[tuple[str, str, str], FittedEstimator] = {}

    def reference(self, plan: RolloutPlan, candidate: ModelVersion) -> EstimateReference:
        """The plan's reference, else the candidate's newest stored evaluation; refused with
        what to do when there is neither."""
        if plan.estimate_reference is not None:
            try:
                dataset = self.datasets.get(plan.estimate_reference)
            except NotFoundError as exc:
                raise ValidationError(
                    f"the plan's estimate_reference {plan.estimate_reference!r} is not a "
                    f"dataset version ({exc}); name labelled data neither model trained on, "
                    "e.g. dataset:bikes-holdout@1"
                ) from exc
            target = plan.estimate_target or _only_target(dataset, candidate)
            return EstimateReference(dataset, target)
        for evaluation in stored_evaluations(self.registry.engine, candidate.id):
            try:
                dataset = self.datasets.get(str(evaluation["dataset"]))
            except NotFoundError:
                continue  # the evaluated data is gone: an older evaluation may still serve
            return EstimateReference(dataset, str(evaluation["target"]))
        raise ValidationError(
            f"judge_by needs labelled reference data to fit the estimate on, and "
            f"{candidate.uri} has no stored evaluation: evaluate it on a hold-out "
            f"(`loopml models evaluate {candidate.uri} DATASET --target COLUMN`) or set the "
            "plan's estimate_reference (and estimate_target)"
        )

    def fitted(self, model: ModelVersion, reference: EstimateReference) -> FittedEstimator:
        """The estimator of `model` on `reference` (fitted on first use, then reused)."""
        key = (model.id, reference.dataset.id, reference.target)
        if key not in self._fitted:
            try:
                self._fitted[key] = fit_estimator(
                    self.datasets, self.registry, model, reference.dataset, reference.target
                )
            except ValidationError as exc:
                raise ValidationError(
                    f"no performance estimate for {model.uri} on {reference.dataset.uri} "
                    f"(target {reference.target!r}): {exc}"
                ) from exc
        return self._fitted[key]


def _only_target(dataset: DatasetVersion, model: ModelVersion) -> str:
    """The reference's one column that is neither a model input, a prediction nor time."""
    inputs = {str(spec["name"]) for spec in (model.signature or {}).get("inputs", [])}
    left = [
        c
        for c in dataset.columns
        if c not in inputs and c not in ("prediction", dataset.time_column)
    ]
    if len(left) != 1:
        raise ValidationError(
            f"which column of {dataset.uri} holds the labels is ambiguous "
            f"({', '.join(left) or 'no column left'}): name it with the plan's estimate_target"
        )
    return left[0]


def estimated_quality(
    estimates: StepEstimates,
    plan: RolloutPlan,
    candidate: ModelVersion,
    stable: ModelVersion,
    reference: EstimateReference,
    served: pd.DataFrame,
    compared: pd.DataFrame,
) -> EstimatedQuality:
    """The step's quality on the estimate: both sides' estimated metric over their rows of
    the window, with bands at the plan's two error rates, and the verdict."""
    fitted = estimates.fitted(candidate, reference), estimates.fitted(stable, reference)
    method = fitted[0].method
    if fitted[1].method != method:
        raise ValidationError(
            f"{candidate.uri} is estimated by {method.upper()} and {stable.uri} by "
            f"{fitted[1].method.upper()}: a classifier and a regressor cannot be compared"
        )
    metric = plan.metric or DEFAULT_METRIC[method]
    if metric not in METHOD_METRICS[method]:
        kind = "regressor" if method == "dle" else "classifier"
        raise ValidationError(
            f"{metric} cannot be estimated for a {kind}: use "
            f"{' or '.join(METHOD_METRICS[method])} as the plan's metric"
        )
    promote_level = 1 - 2 * plan.false_promotion_rate
    rollback_level = 1 - 2 * plan.false_rollback_rate
    sides = []
    for model, estimator, rows in ((candidate, fitted[0], served), (stable, fitted[1], compared)):
        answered = rows[rows["prediction"].notna()].reset_index(drop=True)
        promote = estimator.estimate(answered, promote_level).get(metric, NO_ESTIMATE)
        rollback = estimator.estimate(answered, rollback_level).get(metric, NO_ESTIMATE)
        sides.append(
            (EstimatedSide.of(model.uri, len(answered), promote), Bands(promote, rollback))
        )
    drop = plan.max_accuracy_drop if plan.max_accuracy_drop is not None else 0.0
    status, allowed, promote_bound, rollback_bound, message = judge_estimates(
        metric, drop, sides[0][1], sides[1][1]
    )
    return EstimatedQuality(
        method=method,
        metric=metric,
        reference=reference.dataset.uri,
        target=reference.target,
        candidate=sides[0][0],
        stable=sides[1][0],
        margin=drop,
        allowed=allowed,
        promote_bound=promote_bound,
        rollback_bound=rollback_bound,
        status=status,
        message=message,
    )
