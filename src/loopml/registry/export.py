"""`export_version`: a registered version as an ONNX file, proven to agree.

The graph is checked against the original model on sample rows before anything is
written. ONNX runs in float32, so the two never agree exactly: a float32 number carries
about 7 significant digits, which near a prediction of 500 bikes is a step of 3e-5, and
tree ensembles add up hundreds of such values. The tolerance is therefore relative to the
size of the predictions — `max_abs_diff / max(1, largest |prediction|)` — which a correct
conversion keeps near 1e-6; a wrong one (columns swapped, a step dropped) is off by whole
units. Classifiers compare labels (any disagreement fails) and probabilities (scale 1).
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from loopml.errors import ValidationError
from loopml.registry.packaging import LoadedModel, Signature, export_onnx, onnx_parity
from loopml.registry.packaging.flavors import capabilities_of
from loopml.registry.packaging.flavors.base import optional_module
from loopml.registry.records import ModelVersion
from loopml.registry.service import RegistryService
from loopml.tracking import Run

onnx = optional_module("onnx")  # the `onnx` extra, with skl2onnx

FORMATS = ("onnx",)
DEFAULT_TOLERANCE = 1e-4
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class ExportResult:
    """An exported version: where the file is and how closely it matches the original."""

    source: str  # the version exported, e.g. model:bikes/3
    path: Path
    fmt: str
    max_abs_diff: float
    max_rel_diff: float  # max_abs_diff / max(1, largest |prediction|)
    rows_checked: int
    onnx_opset: int
    tolerance: float
    signature: Signature | None = field(default=None, compare=False)
    example: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def export_version(
    registry: RegistryService,
    ref: str | ModelVersion,
    dest: str | Path,
    *,
    fmt: str = "onnx",
    sample: pd.DataFrame | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportResult:
    """Convert version `ref` to `fmt` at `dest` (a folder gets `<model>-<version>.onnx`)
    after checking it on `sample` (default: the version's input example)."""
    if fmt not in FORMATS:
        raise ValidationError(f"export format {fmt!r} is not supported; use {', '.join(FORMATS)}")
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance > 0):
        raise ValidationError(f"tolerance must be a positive number, got {tolerance!r}")
    version = registry.get_version(ref)
    if not capabilities_of(version.flavor).exportable_to_onnx:
        raise ValidationError(
            f"{version.uri} is a {version.flavor}-flavor model; only scikit-learn, XGBoost "
            "and LightGBM versions convert to ONNX"
        )
    model = registry.load(version)
    frame = _sample_frame(model, version, sample)
    graph = export_onnx(model.raw, model.signature if model.signature is not None else frame)
    diff = onnx_parity(model, graph, frame)
    relative = diff / _scale(model, frame)
    if not relative <= tolerance:  # also refuses NaN
        raise ValidationError(
            f"the ONNX copy of {version.uri} differs from it by up to {diff:.3g} "
            f"({relative:.3g} relative) on {len(frame)} rows, above the tolerance "
            f"{tolerance:g}; nothing was written"
        )
    path = _target(Path(dest), version, fmt)
    _write_atomically(path, graph)
    return ExportResult(
        source=version.uri,
        path=path,
        fmt=fmt,
        max_abs_diff=diff,
        max_rel_diff=relative,
        rows_checked=len(frame),
        onnx_opset=_opset(graph),
        tolerance=float(tolerance),
        signature=model.signature,
        example=frame.head(EXAMPLE_ROWS),
    )


def register_onnx(run: Run, exported: ExportResult, name: str) -> ModelVersion:
    """Log the exported graph in `run` and register it as the next version of `name`
    (flavor onnx, same signature), with the parity check as the run's metrics."""
    if exported.fmt != "onnx":
        raise ValidationError(f"only ONNX exports can be registered, not {exported.fmt!r}")
    run.log_metrics(
        {
            "onnx_max_abs_diff": exported.max_abs_diff,
            "onnx_max_rel_diff": exported.max_rel_diff,
            "onnx_rows_checked": exported.rows_checked,
        }
    )
    run.set_tags({"source_model": exported.source, "onnx_opset": exported.onnx_opset})
    version = run.log_model(
        exported.path.read_bytes(),
        name=name,
        flavor="onnx",
        signature=exported.signature,
        input_example=exported.example,
        description=f"ONNX export of {exported.source}",
    )
    if not isinstance(version, ModelVersion):
        raise ValidationError(f"the ONNX model was logged in {run.id} but not registered")
    return version


def _sample_frame(
    model: LoadedModel, version: ModelVersion, sample: pd.DataFrame | None
) -> pd.DataFrame:
    """The rows to compare on, in the signature's column order and training dtypes."""
    if sample is None:
        records = model.manifest.input_example
        if not records:
            raise ValidationError(
                f"{version.uri} was logged without an input example; pass sample rows "
                "(loopml export --sample FILE) to check the ONNX copy against"
            )
        sample = pd.DataFrame.from_records(records)
    if not isinstance(sample, pd.DataFrame) or sample.empty:
        raise ValidationError("the sample to check the export on must be a non-empty DataFrame")
    signature = model.signature
    if signature is None:
        return sample
    missing = [n for n in signature.input_names if n not in sample.columns]
    if missing:
        raise ValidationError(f"the sample lacks the model's column(s) {', '.join(missing)}")
    frame = sample[signature.input_names].reset_index(drop=True)
    problems = signature.validate(frame)
    if problems:
        first = problems[0]
        raise ValidationError(f"the sample does not fit the model: {first.field}: {first.problem}")
    return signature.coerce(frame)


def _scale(model: LoadedModel, frame: pd.DataFrame) -> float:
    """What differences are measured against: 1 for classifiers, else the largest output."""
    if model.has_proba or is_classifier(model.raw):
        return 1.0
    predicted = np.asarray(model.predict(frame), dtype=np.float64)
    return max(1.0, float(np.max(np.abs(predicted)))) if predicted.size else 1.0


def _target(dest: Path, version: ModelVersion, fmt: str) -> Path:
    dest = dest.expanduser().resolve()
    if dest.is_dir():
        return dest / f"{version.model}-{version.version}.{fmt}"
    if not dest.parent.is_dir():
        raise ValidationError(f"output folder {dest.parent} does not exist")
    return dest


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _opset(graph: bytes) -> int:
    """The default-domain opset the graph was written for (0 when onnx is not installed)."""
    if onnx is None:
        return 0
    proto = onnx.load_model_from_string(graph)
    versions = [int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    return max(versions, default=0)
