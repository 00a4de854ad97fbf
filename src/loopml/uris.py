"""Typed object references users can type: `dataset:bikes@3`, `run:3f9c2a1b`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopml.errors import ValidationError

_DATASET = re.compile(r"^(?:dataset:)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:@(?P<ref>\w+))?$")


@dataclass(frozen=True)
class DatasetRef:
    """A dataset name with a version number, or None for the latest."""

    name: str
    version: int | None

    def __str__(self) -> str:
        return f"dataset:{self.name}@{self.version if self.version is not None else 'latest'}"


def parse_dataset_ref(text: str) -> DatasetRef:
    """`bikes`, `bikes@latest`, `bikes@3` or `dataset:bikes@3`."""
    match = _DATASET.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValidationError(
            f"{text!r} is not a dataset reference; write NAME, NAME@VERSION or dataset:NAME@VERSION"
        )
    ref = match.group("ref")
    if ref is None or ref == "latest":
        return DatasetRef(match.group("name"), None)
    if not ref.isdigit():
        raise ValidationError(f"dataset version in {text!r} must be a number or 'latest'")
    return DatasetRef(match.group("name"), int(ref))


_MODEL = re.compile(
    r"^(?:model:)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:(?P<sep>[/@])(?P<ref>[A-Za-z0-9_\-]+))?$"
)


@dataclass(frozen=True)
class ModelRef:
    """`model:bikes/3` (a version), `model:bikes@champion` (an alias) or `bikes` (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"model:{self.name}/{self.version}"
        return f"model:{self.name}@{self.alias or 'latest'}"


def parse_model_ref(text: str) -> ModelRef:
    """`bikes`, `bikes/3`, `bikes@champion`, `model:bikes/3`, `model:bikes@latest`."""
    match = _MODEL.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValidationError(
            f"{text!r} is not a model reference; write model:NAME/VERSION or model:NAME@ALIAS"
        )
    name, sep, ref = match.group("name"), match.group("sep"), match.group("ref")
    if sep == "/":
        if not ref.isdigit():
            raise ValidationError(f"model version in {text!r} must be a number")
        return ModelRef(name, version=int(ref))
    if sep == "@" and ref != "latest":
        return ModelRef(name, alias=ref)
    return ModelRef(name)
