"""scikit-learn autologging: every outermost `fit` records params, metrics and the model.

The run comes from a `RunSource` handed in by the caller (the SDK passes its default
client), so this module needs nothing above the tracking layer. Fits nested inside another
fit (Pipeline steps, GridSearchCV candidates, meta-estimators) are left alone: a run
describes the model the user asked for, not its parts.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import is_classifier, is_regressor
from sklearn.pipeline import Pipeline
from sklearn.utils import all_estimators
from sklearn.utils.multiclass import type_of_target

from loopml.tracking.run import Run
from loopml.validation import MAX_KEY_LEN, MAX_VALUE_LEN

MODEL_ARTIFACT = "model/model.joblib"
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-./: ]")

Fit = Callable[..., Any]


class RunSource(Protocol):
    """Where autologged fits find the active run, or start their own."""

    def active_run(self) -> Run | None: ...

    def start_run(self, experiment: str = "default", name: str | None = None) -> Run: ...


@dataclass
class _Config:
    source: Callable[[], RunSource]
    experiment: str
    log_models: bool


class _State:
    """Patched classes, the settings, and which runs an outermost fit is logging into."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.originals: dict[type, Fit] = {}
        self.config: _Config | None = None
        self.busy_runs: set[str] = set()
        self.local = threading.local()


_state = _State()


# ---------------------------------------------------------------------- switching on and off
def patch_sklearn(
    source: Callable[[], RunSource], *, experiment: str = "default", log_models: bool = True
) -> None:
    """Wrap `fit` of every scikit-learn estimator; calling again only updates the settings."""
    with _state.lock:
        _state.config = _Config(source, experiment, log_models)
        if _state.originals:
            return
        for cls in _estimator_classes():
            original = cls.__dict__["fit"]
            _state.originals[cls] = original
            setattr(cls, "fit", _wrap(original))  # noqa: B010 (mypy: fit is not on `type`)


def unpatch_sklearn() -> None:
    """Put every original `fit` back."""
    with _state.lock:
        for cls, original in _state.originals.items():
            setattr(cls, "fit", original)  # noqa: B010
        _state.originals.clear()
        _state.config = None


def is_patched() -> bool:
    """Whether scikit-learn's `fit` methods are currently wrapped."""
    return bool(_state.originals)


def _estimator_classes() -> list[type]:
    """The classes that define the `fit` each estimator uses; subclasses inherit the wrapper.

    Many public estimators inherit `fit` from a private base (RandomForestClassifier from
    BaseForest, GridSearchCV from BaseSearchCV), so the base is the one to wrap.
    """
    owners: dict[type, None] = {}
    for cls in [*(c for _, c in all_estimators()), Pipeline]:
        owner = next((c for c in cls.__mro__ if "fit" in c.__dict__), None)
        if owner is not None and inspect.isfunction(owner.__dict__["fit"]):
            owners[owner] = None
    return list(owners)


# ---------------------------------------------------------------------- the wrapper
def _wrap(original: Fit) -> Fit:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = _state.config
        if config is None or _depth() > 0:
            with _nested():
                return original(self, *args, **kwargs)
        return _fit_and_log(config, original, self, args, kwargs)

    return fit


def _depth() -> int:
    return int(getattr(_state.local, "depth", 0))


@contextmanager
def _nested() -> Iterator[None]:
    """Mark this thread as inside a fit, so inner fits do not log."""
    _state.local.depth = _depth() + 1
    try:
        yield
    finally:
        _state.local.depth -= 1


def _fit_and_log(
    config: _Config,
    original: Fit,
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    run, owned = _open_run(config)
    if run is None:
        with _nested():
            return original(estimator, *args, **kwargs)
    with _state.lock:
        _state.busy_runs.add(run.id)
    try:
        with _nested():
            try:
                result = original(estimator, *args, **kwargs)
            except BaseException as exc:
                if owned:
                    _end(run, exc)
                raise
            _log_fit(run, estimator, args, kwargs, config.log_models)
    finally:
        with _state.lock:
            _state.busy_runs.discard(run.id)
    if owned:
        _end(run, None)
    return result


def _open_run(config: _Config) -> tuple[Run | None, bool]:
    """(run to log into, whether this fit started it); None when the fit must not log.

    A fit on a thread without its own run while another thread's outermost fit is
    logging is taken to be one of that fit's parallel parts (joblib worker threads share
    neither our thread-local depth nor the thread's active run), and does not log.
    """
    try:
        source = config.source()
        run = source.active_run()
        with _state.lock:
            if run is not None:
                return (None, False) if run.id in _state.busy_runs else (run, False)
            if _state.busy_runs:
                return None, False
        return source.start_run(config.experiment), True
    except Exception as exc:
        _warn("could not find or start a run", exc)
        return None, False


def _end(run: Run, exc: BaseException | None) -> None:
    try:
        if exc is None:
            run.end("FINISHED")
        elif isinstance(exc, KeyboardInterrupt):
            run.end("KILLED", error="interrupted (KeyboardInterrupt)")
        else:
            run.end("FAILED", error="".join(traceback.format_exception(exc)))
    except Exception as end_exc:
        _warn(f"could not end run {run.id}", end_exc)


def _warn(what: str, exc: BaseException) -> None:
    warnings.warn(
        f"loopml autolog {what}: {type(exc).__name__}: {exc} (training was not affected)",
        RuntimeWarning,
        stacklevel=5,  # _warn, its caller, _fit_and_log, the wrapper: point at the user
    )


# ---------------------------------------------------------------------- what gets logged
def _log_fit(
    run: Run, estimator: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], log_models: bool
) -> None:
    """Each part is attempted on its own: one failure costs that part, never the fit."""
    parts: list[tuple[str, Callable[[], None]]] = [
        ("params", lambda: run.log_params(estimator_params(estimator))),
        ("tags", lambda: run.set_tags(estimator_tags(estimator))),
        ("metrics", lambda: _log_metrics(run, estimator, args, kwargs)),
    ]
    if log_models:
        parts.append(("the model", lambda: _log_model(run, estimator, _fit_data(args, kwargs)[0])))
    for what, part in parts:
        try:
            part()
        except Exception as exc:
            _warn(f"could not log {what} of {type(estimator).__name__}", exc)


def estimator_tags(estimator: Any) -> dict[str, str]:
    """What was trained, so runs can be filtered by estimator without loading models."""
    cls = type(estimator)
    return {
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
        "estimator_name": cls.__name__,
    }


def estimator_params(estimator: Any) -> dict[str, str]:
    """`get_params(deep=False)` flattened (dicts become `key.sub`), as bounded strings."""
    params = dict(estimator.get_params(deep=False))
    best = getattr(estimator, "best_params_", None)
    if isinstance(best, Mapping):
        params["best_params"] = best
    return _flatten(params, "")


def _flatten(values: Mapping[Any, Any], prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = _BAD_KEY_CHARS.sub("_", f"{prefix}{key}")[:MAX_KEY_LEN].strip() or "_"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            text = str(value)
            flat[name] = text if len(text) <= MAX_VALUE_LEN else text[: MAX_VALUE_LEN - 1] + "…"
    return flat


def _fit_data(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    x = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return x, y, kwargs.get("sample_weight")


def training_metrics(estimator: Any, x: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
    """Scores of the fitted estimator on its own training data (empty if unsupervised)."""
    if x is None or y is None or not hasattr(estimator, "predict"):
        return {}
    w = {"sample_weight": sample_weight}
    if is_classifier(estimator):
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            return {}
        predicted = estimator.predict(x)
        scores = {
            "training_accuracy": skm.accuracy_score(y, predicted, **w),
            "training_f1": skm.f1_score(y, predicted, average="weighted", **w),
        }
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(x)
            scores["training_log_loss"] = skm.log_loss(y, proba, labels=estimator.classes_, **w)
            if kind == "binary":
                scores["training_roc_auc"] = skm.roc_auc_score(y, proba[:, 1], **w)
        return {k: float(v) for k, v in scores.items()}
    if is_regressor(estimator):
        predicted = estimator.predict(x)
        return {
            "training_r2": float(skm.r2_score(y, predicted, **w)),
            "training_rmse": float(skm.root_mean_squared_error(y, predicted, **w)),
            "training_mae": float(skm.mean_absolute_error(y, predicted, **w)),
        }
    return {}


def _log_metrics(
    run: Run, estimator: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    scores = training_metrics(estimator, *_fit_data(args, kwargs))
    best = getattr(estimator, "best_score_", None)
    if isinstance(best, float | int | np.floating) and np.isfinite(best):
        scores["best_cv_score"] = float(best)
    finite = {k: v for k, v in scores.items() if np.isfinite(v)}
    if finite:
        run.log_metrics(finite, step=0)


def _log_model(run: Run, estimator: Any, x: Any) -> None:
    """Packaged like `run.log_model`: manifest, file hashes, and a signature from `x`."""
    example = x if isinstance(x, pd.DataFrame) else None
    run.log_model(estimator, artifact_path=MODEL_ARTIFACT.split("/")[0], input_example=example)
