"""What an import copied, what it found already copied, and what it could not copy (why)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    kind: str  # experiment, run, metric, artifact, model, version, alias
    source_id: str
    reason: str


@dataclass
class ImportSummary:
    """Counts by kind of object, and every problem with its reason."""

    source: str
    copied: Counter[str] = field(default_factory=Counter)
    already: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # copied, with a limit worth knowing

    def problem(self, kind: str, source_id: str, reason: str) -> None:
        self.problems.append(Problem(kind, source_id, reason))

    def note(self, kind: str, source_id: str, reason: str) -> None:
        self.notes.append(Problem(kind, source_id, reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "copied": dict(sorted(self.copied.items())),
            "already_copied": dict(sorted(self.already.items())),
            "not_copied": [p.__dict__ for p in self.problems],
            "copied_with_notes": [p.__dict__ for p in self.notes],
        }
