"""`ModelRunner`: one loaded model version, fed the cheapest input its flavor accepts.

A scikit-learn estimator on numeric columns gets an ndarray built straight from the
validated rows, in signature order (no pandas: ~1 ms saved per predict call on 30 columns).
That covers models fitted without feature names and plain estimators (trees, ensembles,
linear models…) fitted on a DataFrame whose columns are exactly the signature's: for those,
feature names only guard the column order, which the signature check already fixed, so a
shallow copy without `feature_names_in_` is used. Pipelines and everything else get a
DataFrame in signature order, coerced to training dtypes by `LoadedModel.predict`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.deployments import InputPolicy
from loopml.registry.packaging import LoadedModel
from loopml.serving.errors import ServingError
from loopml.serving.parsing import Payload, Records
from loopml.serving.validation import STRICT, CheckedRows, InputPlan, Row

NUMERIC = frozenset({"float", "integer", "boolean"})
# Estimators that use feature names only to check them (no column selection by name).
ARRAY_SAFE = (
    "sklearn.ensemble._gb",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._hist_gradient_boosting",
    "sklearn.tree",
    "sklearn.linear_model",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.naive_bayes",
)
_SHOWN_ERROR = 300


@dataclass(frozen=True, slots=True)
class Scores:
    """What a model answered for some rows, as JSON-ready lists."""

    predictions: list[Any]
    probabilities: list[Any] | None

    def split(self, sizes: list[int]) -> list[Scores]:
        """Cut the answer of a micro-batch back into one per request."""
        out, start = [], 0
        for size in sizes:
            end = start + size
            proba = None if self.probabilities is None else self.probabilities[start:end]
            out.append(Scores(self.predictions[start:end], proba))
            start = end
        return out


class ModelRunner:
    """Validation plan and predict call of one model version, prepared when it is loaded."""

    def __init__(self, uri: str, model: LoadedModel) -> None:
        self.uri = uri
        self.model = model
        signature = model.signature
        self.plan = InputPlan(signature) if signature is not None else None
        # One plan per input policy of the deployments that route here (a handful at most).
        self._plans: dict[InputPolicy, InputPlan] = {} if self.plan is None else {STRICT: self.plan}
        self.names = signature.input_names if signature is not None else None
        self.estimator = _array_estimator(model)
        self.uses_array = self.estimator is not None

    def rows(self, payload: Payload) -> list[Row]:
        """The payload checked against the signature (HTTP 422 on any problem)."""
        return self.check(payload).rows

    def check(
        self, payload: Payload, policy: InputPolicy = STRICT, deployment: str = ""
    ) -> CheckedRows:
        """The payload checked against the signature under a deployment's input policy
        (HTTP 422 on any problem it does not let through)."""
        plan = self._plans.get(policy)
        if plan is None:
            signature = self.model.signature
            if signature is None:
                raise ServingError.one(
                    422,
                    "model",
                    f"{self.uri} has no signature, so its input cannot be checked",
                    "register the model with an input example (log_model(..., input_example=X))",
                )
            plan = self._plans[policy] = InputPlan(signature, policy)
        return plan.check(payload, deployment)

    def records_of(self, payload: Payload, checked: CheckedRows) -> list[dict[str, Any]]:
        """The scored rows as {column: value}, the shape the prediction log keeps."""
        if isinstance(payload, Records) and not checked.ignored:
            return payload.records  # already checked: exactly the signature's columns
        assert self.plan is not None
        return self.plan.records_of(checked.rows)

    def score(self, rows: list[Row]) -> Scores:
        """Predictions (and probabilities when the model has them) for validated rows."""
        model, estimator = self.model, self.estimator
        try:
            # Huge values overflow float32 inside tree models: a per-request warning, no error.
            with np.errstate(over="ignore", invalid="ignore"):
                if estimator is not None:
                    X = np.array(rows, dtype=np.float64)
                    predictions = np.asarray(estimator.predict(X))
                    proba = np.asarray(estimator.predict_proba(X)) if model.has_proba else None
                else:
                    frame = pd.DataFrame(rows, columns=self.names)
                    predictions = model.predict(frame)
                    proba = model.predict_proba(frame) if model.has_proba else None
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # The input passed the signature, yet the model refused it (e.g. infinity).
            text = str(exc)
            raise ServingError.one(
                422,
                "body",
                f"the model could not score this input: {text[:_SHOWN_ERROR]}",
                "check the values against the training data's ranges",
            ) from exc
        return Scores(predictions.tolist(), None if proba is None else proba.tolist())


def _array_estimator(model: LoadedModel) -> Any:
    """The estimator to call with a float ndarray in signature order, or None (DataFrame)."""
    signature = model.signature
    if (
        signature is None
        or not model.capabilities.accepts_arrays
        or not all(spec.type in NUMERIC for spec in signature.inputs)
    ):
        return None
    raw = model.raw
    names = getattr(raw, "feature_names_in_", None)
    if names is None:
        return raw
    if [str(n) for n in names] != signature.input_names or not type(raw).__module__.startswith(
        ARRAY_SAFE
    ):
        return None
    stripped = copy.copy(raw)  # shallow: the fitted trees and coefficients are shared
    del stripped.feature_names_in_
    return stripped
