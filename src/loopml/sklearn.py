"""scikit-learn integration: `loopml.sklearn.autolog()` records every fit as a run.

    import loopml.sklearn
    loopml.sklearn.autolog()
    model.fit(X, y)          # params, training metrics, tags and model/model.joblib

A fit inside `with loopml.start_run():` logs into that run; otherwise it gets a run of its
own in `experiment`, ended when the fit returns.
"""

from __future__ import annotations

from loopml.sdk import fluent
from loopml.tracking.autolog import (
    MODEL_ARTIFACT,
    estimator_params,
    is_patched,
    patch_sklearn,
    training_metrics,
    unpatch_sklearn,
)

__all__ = ["MODEL_ARTIFACT", "autolog", "estimator_params", "is_patched", "training_metrics"]


def autolog(*, experiment: str = "default", log_models: bool = True, disable: bool = False) -> None:
    """Log every outermost scikit-learn `fit` through the default client (see set_client).

    `disable=True` restores the original methods. Logging problems become warnings; they
    never stop training.
    """
    if disable:
        unpatch_sklearn()
    else:
        patch_sklearn(fluent.local_client, experiment=experiment, log_models=log_models)
