"""Model packaging: a signature, a sealed folder with a manifest, and loading it back.

No database here: the registry stores what `save_model` writes and loads it with
`load_model`; the serving layer uses `Signature.validate` and `coerce` before `predict`.
"""

from loopml.registry.packaging.columns import COLUMN_TYPES, ColumnSpec, ColumnType, FieldError
from loopml.registry.packaging.flavors.onnx import label_network
from loopml.registry.packaging.inference import MAX_CATEGORIES, infer_signature
from loopml.registry.packaging.load import LoadedModel, load_model
from loopml.registry.packaging.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    FileEntry,
    ModelManifest,
    read_manifest,
)
from loopml.registry.packaging.onnx_export import export_onnx, onnx_parity
from loopml.registry.packaging.save import save_model
from loopml.registry.packaging.signature import Signature
from loopml.registry.packaging.training_facts import (
    ColumnFacts,
    facts_from_frame,
    facts_from_profile,
    probe_missing,
    with_missing_probe,
    with_training_facts,
)

__all__ = [
    "COLUMN_TYPES",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "MAX_CATEGORIES",
    "ColumnFacts",
    "ColumnSpec",
    "ColumnType",
    "FieldError",
    "FileEntry",
    "LoadedModel",
    "ModelManifest",
    "Signature",
    "export_onnx",
    "facts_from_frame",
    "facts_from_profile",
    "infer_signature",
    "label_network",
    "load_model",
    "onnx_parity",
    "probe_missing",
    "read_manifest",
    "save_model",
    "with_missing_probe",
    "with_training_facts",
]
