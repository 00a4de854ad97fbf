"""`save_model`: write a model and its manifest into a new folder, all or nothing."""

from __future__ import annotations

import json
import pickle
import platform
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors import pick_flavor
from loopml.registry.packaging.integrity import file_entries
from loopml.registry.packaging.manifest import ModelManifest, write_manifest
from loopml.registry.packaging.requirements import pinned
from loopml.registry.packaging.signature import Signature

MAX_EXAMPLE_ROWS = 5


def save_model(
    model: Any,
    dest: Path,
    *,
    flavor: str | None = None,
    signature: Signature | Mapping[str, Any] | None = None,
    input_example: pd.DataFrame | None = None,
    requirements: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ModelManifest:
    """Package `model` into the folder `dest`, which must not exist yet (or be empty).

    The files are written to a hidden sibling folder first and renamed into place, so `dest`
    never holds half a model. `requirements` defaults to the installed versions of what the
    flavor needs; `input_example` keeps its first rows and must satisfy `signature`.
    """
    dest = Path(dest)
    chosen = pick_flavor(model, flavor)
    parsed = Signature.from_dict(signature) if isinstance(signature, Mapping) else signature
    example = _example_records(input_example, parsed)
    extra = _json_safe("metadata", dict(metadata or {}))
    wanted = _requirements(requirements)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValidationError(f"{dest} already exists and is not an empty folder; save elsewhere")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.saving-", dir=dest.parent))
    try:
        try:
            loader = chosen.save(model, staging)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise ValidationError(
                f"cannot save this {type(model).__name__}: it does not pickle ({exc}); "
                "models must be defined in importable modules and hold no open resources"
            ) from exc
        manifest = ModelManifest(
            flavor=chosen.name,
            loader=loader,
            files=file_entries(staging),
            has_proba=chosen.has_proba(model),
            requirements=wanted if wanted is not None else pinned(chosen.packages(model)),
            python_version=platform.python_version(),
            loopml_version=_loopml_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            signature=parsed.to_dict() if parsed is not None else None,
            input_example=example,
            metadata=extra,
        )
        write_manifest(staging, manifest)
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _example_records(
    example: pd.DataFrame | None, signature: Signature | None
) -> list[dict[str, Any]] | None:
    if example is None:
        return None
    if not isinstance(example, pd.DataFrame):
        raise ValidationError(
            f"input_example must be a pandas DataFrame, got {type(example).__name__}"
        )
    head = example.head(MAX_EXAMPLE_ROWS)
    if signature is not None and (problems := signature.validate(head)):
        listed = "; ".join(f"{p.field}: {p.problem}" for p in problems)
        raise ValidationError(f"input_example does not match the signature: {listed}")
    records: list[dict[str, Any]] = json.loads(head.to_json(orient="records", date_format="iso"))
    return records


def _requirements(requirements: list[str] | None) -> list[str] | None:
    if requirements is None:
        return None
    if isinstance(requirements, str) or not all(
        isinstance(r, str) and r.strip() for r in requirements
    ):
        raise ValidationError(
            f"requirements must be a list of strings like 'scikit-learn==1.5.0', "
            f"got {requirements!r}"
        )
    return [r.strip() for r in requirements]


def _json_safe(what: str, value: dict[str, Any]) -> dict[str, Any]:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be JSON-serialisable: {exc}") from exc
    return value


def _loopml_version() -> str:
    try:
        return importlib_metadata.version("loopml")
    except importlib_metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"
