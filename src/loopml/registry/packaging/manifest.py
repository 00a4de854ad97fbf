"""`loopml-model.json`: what a saved model folder holds and how to load it.

The manifest lists every other file with its BLAKE3 digest and size, so a folder is sealed:
`load_model` refuses it if anything was changed, removed or added. The manifest cannot
list its own digest; the registry records that (the artifact digest of this file).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from loopml.errors import ArtifactCorruptedError, NotFoundError, ValidationError

MANIFEST_NAME = "loopml-model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """One packaged file: its content hash and length."""

    blake3: str
    size: int


@dataclass(frozen=True)
class ModelManifest:
    """The parsed `loopml-model.json` of one saved model."""

    flavor: str
    loader: dict[str, str]  # {"file": "model.joblib", "format": "joblib"}
    files: dict[str, FileEntry]  # relative POSIX path -> entry; the manifest excluded
    has_proba: bool
    requirements: list[str]
    python_version: str
    loopml_version: str
    created_at: str  # ISO 8601, UTC
    signature: dict[str, Any] | None = None
    input_example: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False).encode()

    @classmethod
    def from_dict(cls, data: Any, source: str = MANIFEST_NAME) -> ModelManifest:
        """Parse and check a manifest; a malformed one means the folder was damaged."""
        if not isinstance(data, dict):
            raise _damaged(source, "it is not a JSON object")
        version = data.get("format_version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise ValidationError(
                f"{source} has format version {version}; this loopml reads up to "
                f"{FORMAT_VERSION}: upgrade loopml to load this model"
            )
        try:
            files = {path: FileEntry(**entry) for path, entry in data["files"].items()}
            manifest = cls(**{**data, "files": files})
        except (KeyError, TypeError, AttributeError) as exc:
            raise _damaged(source, f"a field is missing or malformed ({exc})") from exc
        manifest._check(source)
        return manifest

    def _check(self, source: str) -> None:
        for path, entry in self.files.items():
            if not _is_plain_relative(path) or path == MANIFEST_NAME:
                raise _damaged(source, f"it lists the file {path!r}, which is outside the folder")
            if not isinstance(entry.blake3, str) or not isinstance(entry.size, int):
                raise _damaged(source, f"the entry of {path!r} needs a blake3 string and a size")
        if not isinstance(self.loader, dict) or self.loader.get("file") not in self.files:
            raise _damaged(source, "its loader names no file the manifest lists")
        if not isinstance(self.flavor, str) or not isinstance(self.has_proba, bool):
            raise _damaged(source, "'flavor' must be a string and 'has_proba' true or false")
        if not isinstance(self.requirements, list) or not isinstance(self.metadata, dict):
            raise _damaged(source, "'requirements' must be a list and 'metadata' an object")


def read_manifest(folder: Path) -> ModelManifest:
    """The manifest of a saved model folder (NotFoundError when there is none)."""
    path = Path(folder) / MANIFEST_NAME
    if not Path(folder).is_dir():
        raise NotFoundError(f"no model folder at {folder}")
    if not path.is_file():
        raise NotFoundError(
            f"{folder} holds no {MANIFEST_NAME}: it is not a model saved by loopml "
            "(save it with save_model)"
        )
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _damaged(str(path), f"it is not valid JSON ({exc})") from exc
    return ModelManifest.from_dict(data, str(path))


def write_manifest(folder: Path, manifest: ModelManifest) -> None:
    (Path(folder) / MANIFEST_NAME).write_bytes(manifest.to_json())


def _is_plain_relative(path: str) -> bool:
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path


def _damaged(source: str, why: str) -> ArtifactCorruptedError:
    return ArtifactCorruptedError(
        f"{source} is damaged: {why}; the model folder was modified after it was saved — "
        "fetch or save the model again"
    )
