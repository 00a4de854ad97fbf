"""`load_model`: verify a saved folder against its manifest, then load it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from loopml.artifacts.hashing import hash_file
from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.registry.packaging.flavors import Predictor, capabilities_of, get_flavor
from loopml.registry.packaging.flavors.base import Array
from loopml.registry.packaging.integrity import verify_files
from loopml.registry.packaging.manifest import MANIFEST_NAME, ModelManifest, read_manifest
from loopml.registry.packaging.signature import Signature

NUMERIC = frozenset({"float", "integer", "boolean"})


class LoadedModel:
    """A verified model of any flavor, predicting on the column layout it was trained on."""

    def __init__(
        self, manifest: ModelManifest, signature: Signature | None, predictor: Predictor
    ) -> None:
        self.manifest = manifest
        self.signature = signature
        self.flavor = manifest.flavor
        self.capabilities = capabilities_of(manifest.flavor)
        self.has_proba = manifest.has_proba
        self._predictor = predictor

    @property
    def raw(self) -> Any:
        """The underlying object: the estimator, the Python object, or the ONNX session."""
        return self._predictor.raw

    def predict(self, X: Any) -> Array:
        """Predictions for a DataFrame (coerced to the signature first) or an array."""
        return self._predictor.predict(self._prepare(X))

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities; a ValidationError when the model has no predict_proba."""
        if not self.has_proba:
            raise ValidationError(
                f"this {self.flavor} model has no predict_proba (it is not a probabilistic "
                "classifier); use predict"
            )
        return self._predictor.predict_proba(self._prepare(X))

    def predict_both(self, X: Any) -> tuple[Array, Array | None]:
        """Predictions, and probabilities when the model has them, from one model call
        where the flavor can (see `outcomes.py`); the labels equal `predict`'s."""
        prepared = self._prepare(X)
        if not self.has_proba:
            return self._predictor.predict(prepared), None
        return self._predictor.predict_both(prepared)

    def for_arrays(self) -> Predictor | None:
        """A predictor fed float matrices in signature order (no DataFrame), or None.

        Only flavors whose capabilities accept arrays offer one, and only for all-numeric
        signatures; serving uses it to skip pandas."""
        signature = self.signature
        if (
            signature is None
            or not self.capabilities.accepts_arrays
            or not all(spec.type in NUMERIC for spec in signature.inputs)
        ):
            return None
        return self._predictor.for_arrays(signature.input_names)

    def _prepare(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame) and self.signature is not None:
            return self.signature.coerce(X)
        return X

    def __repr__(self) -> str:
        return f"LoadedModel(flavor={self.flavor!r}, raw={type(self.raw).__name__})"


def load_model(folder: Path, *, manifest_digest: str | None = None) -> LoadedModel:
    """Load the model saved in `folder`, after checking every file against the manifest.

    Nothing is unpickled unless every listed file is present with its recorded size and
    BLAKE3 digest and no unlisted file was added. Pass `manifest_digest` (the registry's
    record of the manifest's BLAKE3) to check the manifest itself too.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest_digest is not None and hash_file(folder / MANIFEST_NAME) != manifest_digest:
        raise ArtifactCorruptedError(
            f"{folder / MANIFEST_NAME} is not the manifest that was registered (its BLAKE3 "
            "differs); the model folder was modified after it was saved — nothing was loaded"
        )
    verify_files(folder, manifest)
    flavor = get_flavor(manifest.flavor)
    signature = _signature(manifest, folder)
    return LoadedModel(manifest, signature, flavor.load(folder, manifest.loader))


def _signature(manifest: ModelManifest, folder: Path) -> Signature | None:
    if manifest.signature is None:
        return None
    try:
        return Signature.from_dict(manifest.signature)
    except ValidationError as exc:
        raise ArtifactCorruptedError(
            f"the signature in {folder / MANIFEST_NAME} is damaged ({exc}); "
            "fetch or save the model again"
        ) from exc
