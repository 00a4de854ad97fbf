"""Which feature definitions a piece of code resolved while it ran.

A pipeline step that builds a training set from a feature service depends on the views'
data (noted as dataset reads) and on their definitions: a view whose expression changed
gives other values from the same data. The step runner opens `recording_definitions()`
around the step, feature selection notes every definition version it resolves, and the
step cache treats an entry as stale once one of them has a newer version.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from loopml.errors import NotFoundError
from loopml.features.registry import KIND_LABEL, FeatureRegistry

MARK = "feature"  # the key that tells a definition read from a dataset read in stored lists


@dataclass(frozen=True)
class DefinitionRead:
    """One resolved definition: its kind (view, on_demand, service), name and version."""

    kind: str
    name: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {MARK: self.kind, "name": self.name, "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DefinitionRead:
        return cls(str(data[MARK]), str(data["name"]), int(data["version"]))

    @property
    def label(self) -> str:
        return f"{KIND_LABEL.get(self.kind, self.kind)} {self.name}"


_reads: contextvars.ContextVar[list[DefinitionRead] | None] = contextvars.ContextVar(
    "loopml_feature_definition_reads", default=None
)


@contextmanager
def recording_definitions() -> Iterator[list[DefinitionRead]]:
    """Collect the feature definitions resolved inside the block (in this context only)."""
    found: list[DefinitionRead] = []
    token = _reads.set(found)
    try:
        yield found
    finally:
        _reads.reset(token)


def note_definition(kind: str, name: str, version: int) -> None:
    """Called by feature selection; a no-op outside `recording_definitions`."""
    found = _reads.get()
    read = DefinitionRead(kind, name, version)
    if found is not None and read not in found:
        found.append(read)


def stale_definitions(registry: FeatureRegistry, reads: tuple[DefinitionRead, ...]) -> list[str]:
    """The recorded definitions that have another version now, described."""
    stale = []
    for read in reads:
        try:
            now = registry.get(read.kind, read.name).version
        except NotFoundError:
            stale.append(f"{read.label} no longer exists (was version {read.version})")
            continue
        if now != read.version:
            stale.append(f"{read.label} is version {now} now (was {read.version})")
    return stale
