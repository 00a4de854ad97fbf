"""The one interface every flavor implements, and the joblib storage two of them share."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import joblib
import numpy.typing as npt

from loopml.errors import ArtifactCorruptedError

JOBLIB_FILE = "model.joblib"

Array = npt.NDArray[Any]


class Predictor(Protocol):
    """A loaded model. Inputs arrive already coerced to the signature when there is one."""

    raw: Any

    def predict(self, X: Any) -> Array: ...

    def predict_proba(self, X: Any) -> Array: ...

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        """Labels and probabilities, from one model call where the model allows it."""
        ...

    def for_arrays(self, names: list[str]) -> Predictor | None:
        """A predictor fed float matrices with columns in the order `names` (no DataFrame),
        or None when this model needs a DataFrame. Asked only of flavors whose
        capabilities accept arrays."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """What callers may do with every model of a flavor, declared up front as data.

    Serving, batch scoring and export ask these instead of comparing flavor names, so a new
    flavor states what it supports in one place (and the conformance suite checks it).
    Whether one model has `predict_proba` is per model (`Flavor.has_proba`), not here.
    """

    accepts_arrays: bool
    """The raw object's predict/predict_proba take a float matrix in signature order, so
    serving may skip building a DataFrame for all-numeric inputs."""
    exportable_to_onnx: bool
    """`loopml export` can convert it to an ONNX graph and check parity."""


class Flavor(Protocol):
    """How one kind of model is recognised, written to a folder and read back."""

    name: str
    capabilities: Capabilities

    def matches(self, model: object) -> bool: ...

    def save(self, model: object, folder: Path) -> dict[str, str]:
        """Write the model's files into `folder`; return the manifest's loader entry."""
        ...

    def has_proba(self, model: object) -> bool: ...

    def packages(self, model: object) -> list[str]:
        """Distributions needed to load the model (pinned later to installed versions)."""
        ...

    def load(self, folder: Path, loader: Mapping[str, str]) -> Predictor:
        """Read the model back; only called once every file has been verified."""
        ...

    def wrap(self, model: object) -> Predictor:
        """The predictor of an in-memory model, answering as the loaded copy will."""
        ...


def optional_module(name: str) -> ModuleType | None:
    """An optional dependency (the `onnx` extra), or None when it is not installed.

    Imported by name so that the rest of loopml works, and type-checks, without it.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def dump_joblib(model: object, folder: Path) -> dict[str, str]:
    joblib.dump(model, folder / JOBLIB_FILE)
    return {"file": JOBLIB_FILE, "format": "joblib"}


def load_joblib(folder: Path, loader: Mapping[str, str]) -> Any:
    if loader.get("format") != "joblib":
        raise ArtifactCorruptedError(
            f"the manifest in {folder} gives format {loader.get('format')!r} for a joblib "
            "flavor; the folder was modified after it was saved"
        )
    return joblib.load(folder / loader["file"])
