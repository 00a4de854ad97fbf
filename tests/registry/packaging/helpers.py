"""Picklable model classes for the python flavor (pickle needs them in an importable module)."""

from __future__ import annotations

from typing import Any

import numpy as np

UNPICKLED: list[str] = []  # every __setstate__ call, to prove a tampered file is never loaded


class RecordingModel:
    """Sums the features; notes each time it is unpickled."""

    def __init__(self, offset: float = 0.5) -> None:
        self.offset = offset

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        total: np.ndarray[Any, Any] = np.asarray(X, dtype=float).sum(axis=1) + self.offset
        return total

    def __setstate__(self, state: dict[str, Any]) -> None:
        UNPICKLED.append(type(self).__name__)
        self.__dict__.update(state)


class WrappedClassifier:
    """A hand-written wrapper around a fitted estimator, as users write for custom logic."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def predict(self, X: Any) -> Any:
        return self.inner.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.inner.predict_proba(X)


class Unpicklable:
    """Has predict, but holds a lambda, which pickle refuses."""

    def __init__(self) -> None:
        self.scorer = lambda x: x

    def predict(self, X: Any) -> Any:
        return X
