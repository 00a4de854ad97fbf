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
