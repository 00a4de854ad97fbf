"""Seal a model folder at save time and check the seal before anything is unpickled."""

from __future__ import annotations

from pathlib import Path

from loopml.artifacts.hashing import hash_file
from loopml.errors import ArtifactCorruptedError
from loopml.registry.packaging.manifest import MANIFEST_NAME, FileEntry, ModelManifest


def file_entries(folder: Path) -> dict[str, FileEntry]:
    """Digest and size of every file under `folder` except the manifest, by relative path."""
    return {
        name: FileEntry(hash_file(path), path.stat().st_size)
        for name, path in sorted(_files(folder).items())
    }


def verify_files(folder: Path, manifest: ModelManifest) -> None:
    """Raise ArtifactCorruptedError unless the folder holds exactly the files listed, intact.

    Sizes are compared before hashing, so a truncated file is caught without reading it.
    Files nobody listed are refused too: a saved folder is sealed, and an added file is as
    much a modification as a changed one.
    """
    present = _files(folder)
    problems = [f"{name} is missing" for name in manifest.files if name not in present]
    problems += [f"{name} was added (it is not in the manifest)" for name in present
                 if name not in manifest.files]  # fmt: skip
    for name, entry in manifest.files.items():
        path = present.get(name)
        if path is None:
            continue
        size = path.stat().st_size
        if size != entry.size:
            problems.append(f"{name} has {size} bytes where {entry.size} were saved")
        elif hash_file(path) != entry.blake3:
            problems.append(f"{name} does not match its BLAKE3 digest {entry.blake3[:16]}…")
    if problems:
        raise ArtifactCorruptedError(
            f"model folder {folder} was modified after it was saved: {'; '.join(problems)}. "
            "Nothing was loaded; fetch or save the model again"
        )


def _files(folder: Path) -> dict[str, Path]:
    return {
        path.relative_to(folder).as_posix(): path
        for path in Path(folder).rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST_NAME
    }
