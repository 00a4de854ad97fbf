"""The model kinds a package can hold, tried in this order when none is named."""

from __future__ import annotations

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors.base import Capabilities, Flavor, Predictor
from loopml.registry.packaging.flavors.lightgbm import LightGBMFlavor
from loopml.registry.packaging.flavors.onnx import OnnxFlavor
from loopml.registry.packaging.flavors.python import PythonFlavor
from loopml.registry.packaging.flavors.sklearn import SklearnFlavor
from loopml.registry.packaging.flavors.xgboost import XGBoostFlavor

# The boosting libraries come before scikit-learn: their sklearn-API models are estimators
# too, and are better kept in the library's own format.
FLAVORS: dict[str, Flavor] = {
    flavor.name: flavor
    for flavor in (
        XGBoostFlavor(),
        LightGBMFlavor(),
        SklearnFlavor(),
        OnnxFlavor(),
        PythonFlavor(),
    )
}

NO_CAPABILITIES = Capabilities(accepts_arrays=False, exportable_to_onnx=False)

__all__ = [
    "FLAVORS",
    "Capabilities",
    "Flavor",
    "Predictor",
    "capabilities_of",
    "get_flavor",
    "pick_flavor",
]


def get_flavor(name: str) -> Flavor:
    if name not in FLAVORS:
        raise ValidationError(f"unknown model flavor {name!r}; use one of {', '.join(FLAVORS)}")
    return FLAVORS[name]


def capabilities_of(name: str) -> Capabilities:
    """What models of flavor `name` support; nothing for a flavor this loopml does not know
    (e.g. a version registered by a newer release), so callers take the general path."""
    flavor = FLAVORS.get(name)
    return flavor.capabilities if flavor is not None else NO_CAPABILITIES


def pick_flavor(model: object, name: str | None) -> Flavor:
    """The named flavor (checked against the model), or the first that recognises it."""
    if name is not None:
        flavor = get_flavor(name)
        if not flavor.matches(model):
            raise ValidationError(
                f"a {type(model).__name__} cannot be saved with the {name!r} flavor"
                + (": it has no predict method" if name == "python" else "")
            )
        return flavor
    for flavor in FLAVORS.values():
        if flavor.matches(model):
            return flavor
    raise ValidationError(
        f"cannot package a {type(model).__name__}: a model must be a scikit-learn estimator, "
        "an XGBoost or LightGBM model, an ONNX graph (onnx.ModelProto or bytes), or an "
        "object with a predict method"
    )
