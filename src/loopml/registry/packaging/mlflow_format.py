"""Read an MLflow model folder (its `MLmodel` file) into a loopml manifest, unpickling nothing.

A scikit-learn model logged by the stock MLflow client is a folder: `MLmodel` (YAML: the
flavors, the signature, the input example's place), the pickled model, and environment
files. loopml seals that folder as it is with a `loopml-model.json` that lists every file
with its BLAKE3 digest and names the pickle as the `sklearn` flavor's loader, so the
registry, the hash checks and `loopml serve` treat it like any scikit-learn package. Only
text is read here: the model itself is unpickled only by `load_model`, after every file has
been verified, as for models saved by loopml.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from loopml.errors import ValidationError
from loopml.registry.packaging.columns import ColumnSpec, ColumnType
from loopml.registry.packaging.manifest import FileEntry, ModelManifest
from loopml.registry.packaging.signature import Signature

MLMODEL = "MLmodel"
#: How MLflow's sklearn flavor may have serialised the estimator; all load in loopml's
#: `sklearn` flavor (skops only where the `skops` package is installed).
FORMATS = ("cloudpickle", "pickle", "skops")
#: MLflow column types → loopml's.
COLUMN_TYPES: dict[str, ColumnType] = {
    "double": "float",
    "float": "float",
    "integer": "integer",
    "long": "integer",
    "boolean": "boolean",
    "string": "string",
    "datetime": "datetime",
}
EXAMPLE_ROWS = 5


def manifest_for_mlflow_model(
    files: Mapping[str, FileEntry],
    mlmodel: bytes,
    *,
    requirements: bytes | None = None,
    input_example: bytes | None = None,
    loopml_version: str = "unknown",
) -> ModelManifest:
    """The manifest that seals an MLflow scikit-learn model folder holding `files`.

    `mlmodel`, `requirements` and `input_example` are the bytes of `MLmodel`,
    `requirements.txt` and the input example file. A flavor other than scikit-learn, or a
    damaged `MLmodel`, is a ValidationError that says what loopml can import.
    """
    spec = _parse(mlmodel)
    flavors = spec.get("flavors")
    if not isinstance(flavors, dict) or not isinstance(flavors.get("sklearn"), dict):
        found = ", ".join(sorted(flavors)) if isinstance(flavors, dict) else "none"
        raise ValidationError(
            f"this MLflow model has the flavors {found}; loopml imports scikit-learn models "
            "(mlflow.sklearn.log_model) — log other kinds with loopml's SDK (run.log_model)"
        )
    sklearn = flavors["sklearn"]
    pickled, form = sklearn.get("pickled_model"), sklearn.get("serialization_format")
    if form not in FORMATS:
        raise ValidationError(
            f"MLmodel gives serialization_format {form!r}; loopml reads {', '.join(FORMATS)}"
        )
    if not isinstance(pickled, str) or pickled not in files:
        raise ValidationError(
            f"MLmodel names the model file {pickled!r}, which was not uploaded with the model; "
            "log the model again"
        )
    python = flavors.get("python_function")
    python_version = python.get("python_version") if isinstance(python, dict) else None
    signature = _signature(spec.get("signature"))
    return ModelManifest(
        flavor="sklearn",
        loader={"file": pickled, "format": str(form)},
        files=dict(files),
        has_proba=False,  # unknown without unpickling; predict is served
        requirements=_requirements(requirements),
        python_version=str(python_version or "unknown"),
        loopml_version=loopml_version,
        created_at=_created_at(spec.get("utc_time_created")),
        signature=signature.to_dict() if signature is not None else None,
        input_example=_example(input_example, signature),
        metadata={
            "imported_from": "mlflow",
            "mlflow_version": str(spec.get("mlflow_version", "unknown")),
            "mlflow_model_id": spec.get("model_id"),
            "sklearn_version": str(sklearn.get("sklearn_version", "unknown")),
        },
    )


def example_file(mlmodel: bytes) -> str | None:
    """The input example's file name, as `MLmodel` records it (None without one)."""
    info = _parse(mlmodel).get("saved_input_example_info")
    path = info.get("artifact_path") if isinstance(info, dict) else None
    return path if isinstance(path, str) else None


def _parse(mlmodel: bytes) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(mlmodel.decode())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"MLmodel is not readable YAML ({exc}); log the model again") from exc
    if not isinstance(spec, dict):
        raise ValidationError("MLmodel is not a YAML mapping; log the model again")
    return spec


def _signature(found: Any) -> Signature | None:
    """MLflow's column-based signature in loopml's terms; None for a tensor signature or
    none at all (loopml then serves the model without checking columns)."""
    if not isinstance(found, dict) or not isinstance(found.get("inputs"), str):
        return None
    inputs = _columns(found["inputs"], "inputs")
    if inputs is None:
        return None
    outputs = _columns(found["outputs"], "outputs") if isinstance(found.get("outputs"), str) else []
    return Signature(inputs, outputs or [])


def _columns(text: str, what: str) -> list[ColumnSpec] | None:
    """Named columns; MLflow's outputs are often unnamed, and are named as loopml's
    `infer_signature` names them (`prediction`, `prediction_0`…)."""
    try:
        specs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"the signature's {what} in MLmodel are not JSON ({exc})") from exc
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ValidationError(f"the signature's {what} in MLmodel are not a list of columns")
    if any(s.get("type") == "tensor" for s in specs):
        return None
    if what == "outputs":
        default = (
            ["prediction"] if len(specs) == 1 else [f"prediction_{i}" for i in range(len(specs))]
        )
        specs = [{"name": name, **s} for name, s in zip(default, specs, strict=True)]
    elif any("name" not in s for s in specs):
        return None
    columns = []
    for s in specs:
        kind = COLUMN_TYPES.get(str(s.get("type")))
        if kind is None:
            raise ValidationError(
                f"column {s.get('name')!r} has MLflow type {s.get('type')!r}, which loopml "
                f"does not serve; it serves {', '.join(sorted(COLUMN_TYPES))}"
            )
        columns.append(ColumnSpec(str(s["name"]), kind, nullable=not s.get("required", True)))
    return columns


def _requirements(data: bytes | None) -> list[str]:
    if data is None:
        return []
    lines = (line.strip() for line in data.decode(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def _example(data: bytes | None, signature: Signature | None) -> list[dict[str, Any]] | None:
    """The first rows of a `{columns, data}` (pandas split) example as records."""
    if data is None:
        return None
    try:
        found = json.loads(data)
    except json.JSONDecodeError:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("columns"), list):
        return None
    columns, rows = found["columns"], found.get("data") or []
    if signature is not None and columns != signature.input_names:
        return None
    return [dict(zip(columns, row, strict=False)) for row in rows[:EXAMPLE_ROWS]]


def _created_at(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    if isinstance(value, str) and value:
        return value  # MLflow writes "2026-12-06 13:18:48.123456" (UTC)
    return datetime.now(UTC).isoformat(timespec="seconds")
