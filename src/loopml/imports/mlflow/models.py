"""Copying MLflow's registry: registered models, their versions (each from its copied run,
with a loopml manifest listing the MLflow model's files by content hash), and aliases.

A version whose run was not copied cannot be registered (a loopml version always names
the run that made it); a protected alias (`champion`) is not moved by an import: it moves
through an approval, as every other time. Both are reported, not fatal.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

from loopml.errors import LoopmlError, ValidationError
from loopml.imports.mlflow.mapping import IdMapping
from loopml.imports.mlflow.records import MlflowSource, SourceModel, SourceRun, SourceVersion
from loopml.imports.mlflow.summary import ImportSummary
from loopml.registry.packaging import MANIFEST_NAME, FileEntry
from loopml.registry.packaging.mlflow_format import example_file, manifest_for_mlflow_model
from loopml.registry.service import RegistryService
from loopml.tracking.service import TrackingService
from loopml.version import __version__

MLMODEL = "MLmodel"
REQUIREMENTS = "requirements.txt"
COPIED_MODELS = "mlflow-models"


class ModelCopier:
    """Copies registered models of one source into loopml's registry."""

    def __init__(
        self,
        tracking: TrackingService,
        registry: RegistryService,
        source: MlflowSource,
        summary: ImportSummary,
        runs: IdMapping,
        versions: IdMapping,
    ) -> None:
        self.tracking = tracking
        self.registry = registry
        self.source = source
        self.summary = summary
        self.runs = runs
        self.versions = versions
        self.source_runs: dict[str, SourceRun] = {}

    def copy(self, model: SourceModel) -> None:
        try:
            self.registry.create_model(model.name, description=model.description or None)
        except LoopmlError as exc:
            self.summary.problem("model", model.name, str(exc))
            return
        for version in self.source.versions(model.name):
            self._version(version)
        for alias, number in sorted(model.aliases.items()):
            self._alias(model.name, alias, number)

    def _version(self, version: SourceVersion) -> None:
        key = f"{version.model}/{version.version}"
        if key in self.versions:
            self.summary.already["model versions"] += 1
            return
        run_id = self.runs.get(version.run_id or "")
        run = self.source_runs.get(version.run_id or "")
        if run_id is None or run is None:
            self.summary.problem(
                "version",
                key,
                f"its run {version.run_id or '(none)'} was not copied, and a loopml version "
                "needs the run that made it",
            )
            return
        try:
            path = self._files(version, run, run_id)
            if path is None:
                return
            made = self.registry.register_version(
                version.model, run_id, path, description=version.description or None
            )
        except LoopmlError as exc:
            self.summary.problem("version", key, str(exc))
            return
        self.versions.remember(key, made.id)
        self.summary.copied["model versions"] += 1

    def _files(self, version: SourceVersion, run: SourceRun, run_id: str) -> str | None:
        """The path in the loopml run of the version's files, with a manifest beside them."""
        key = f"{version.model}/{version.version}"
        inner, folder = self.source.model_files(version, run)
        if folder is not None:
            inner = f"{COPIED_MODELS}/{version.model}-{version.version}"
            self.tracking.log_artifact(run_id, folder, inner)
        if inner is None:
            self.summary.problem("version", key, f"its files ({version.source}) were not found")
            return None
        prefix = inner.strip("/") + "/"
        files = {
            a["path"][len(prefix) :]: {"blake3": a["digest"], "size": a["size"]}
            for a in self.tracking.list_artifacts(run_id)
            if a["path"].startswith(prefix) and not a["path"].endswith(MANIFEST_NAME)
        }
        if MLMODEL not in files:
            self.summary.problem(
                "version", key, f"no {MLMODEL} file under {inner!r} of the copied run"
            )
            return None
        manifest = self._manifest(key, version, files)
        with tempfile.TemporaryDirectory(prefix="loopml-import-") as scratch:
            target = Path(scratch) / MANIFEST_NAME
            target.write_text(json.dumps(manifest, indent=2, sort_keys=True))
            self.tracking.log_artifact(run_id, target, f"{inner}/{MANIFEST_NAME}")
        return inner

    def _manifest(
        self, key: str, version: SourceVersion, files: dict[str, dict[str, object]]
    ) -> dict[str, object]:
        """A scikit-learn model is sealed as loopml's `sklearn` flavor (servable, loadable,
        like one logged through `loopml server`); other kinds keep their files under the
        `mlflow` flavor, registered with lineage but not servable, and the summary says so."""
        blobs = self.tracking.stores.artifacts
        entries = {
            name: FileEntry(str(item["blake3"]), int(str(item["size"])))
            for name, item in files.items()
        }

        def read(name: str | None) -> bytes | None:
            return blobs.read_bytes(entries[name].blake3) if name in entries else None

        mlmodel = blobs.read_bytes(entries[MLMODEL].blake3)
        try:
            sealed = manifest_for_mlflow_model(
                entries,
                mlmodel,
                requirements=read(REQUIREMENTS),
                input_example=read(example_file(mlmodel)),
                loopml_version=__version__,
            )
        except ValidationError as exc:
            self.summary.note(
                "version", key, f"registered with its files, but not servable by loopml: {exc}"
            )
        else:
            manifest: dict[str, object] = json.loads(sealed.to_json())
            metadata = dict(sealed.metadata)
            metadata.update(mlflow_source=version.source, mlflow_version_number=version.version)
            manifest["metadata"] = metadata
            return manifest
        return {
            "flavor": "mlflow",
            "loader": {"file": MLMODEL, "format": "mlflow"},
            "files": files,
            "has_proba": False,
            "requirements": [],
            "python_version": platform.python_version(),
            "loopml_version": __version__,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "metadata": {"mlflow_source": version.source, "mlflow_version": version.version},
        }

    def _alias(self, model: str, alias: str, number: int) -> None:
        target = self.versions.get(f"{model}/{number}")
        if target is None:
            self.summary.problem(
                "alias", f"{model}@{alias}", f"version {number} of {model} was not copied"
            )
            return
        try:
            current = self.registry.get_model(model).aliases.get(alias)
            version = self.registry.get_version(target).version
            if current == version:
                self.summary.already["aliases"] += 1
                return
            self.registry.set_alias(model, alias, version)
        except LoopmlError as exc:
            self.summary.problem("alias", f"{model}@{alias}", str(exc))
            return
        self.summary.copied["aliases"] += 1
