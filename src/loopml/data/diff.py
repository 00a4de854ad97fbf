"""What changed between two dataset versions: schema, row count, per-column profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.data.versions import DatasetVersion

_COMPARED = ("null_fraction", "mean", "std", "min", "max", "distinct")


@dataclass(frozen=True)
class DatasetDiff:
    """The differences of `new` relative to `old`."""

    old: str
    new: str
    rows_old: int
    rows_new: int
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    type_changed: list[dict[str, Any]] = field(default_factory=list)
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def row_delta(self) -> int:
        return self.rows_new - self.rows_old

    @property
    def schema_changed(self) -> bool:
        return bool(self.added or self.removed or self.type_changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "rows": {"old": self.rows_old, "new": self.rows_new, "delta": self.row_delta},
            "added": self.added,
            "removed": self.removed,
            "type_changed": self.type_changed,
            "columns": self.columns,
        }


def _delta(old: Any, new: Any) -> Any:
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        return new - old
    return None


def diff_versions(old: DatasetVersion, new: DatasetVersion) -> DatasetDiff:
    """Compare two versions using their stored schema and profile (no data is read)."""
    old_types = {c["name"]: c["type"] for c in old.schema}
    new_types = {c["name"]: c["type"] for c in new.schema}
    added = [{"name": n, "type": t} for n, t in new_types.items() if n not in old_types]
    removed = [{"name": n, "type": t} for n, t in old_types.items() if n not in new_types]
    changed = [
        {"name": n, "old": old_types[n], "new": new_types[n]}
        for n in new_types
        if n in old_types and old_types[n] != new_types[n]
    ]
    columns: dict[str, dict[str, Any]] = {}
    for name in new_types:
        if name not in old_types:
            continue
        before, after = old.profile.get(name, {}), new.profile.get(name, {})
        stats: dict[str, Any] = {}
        for stat in _COMPARED:
            if stat in before or stat in after:
                a, b = before.get(stat), after.get(stat)
                stats[stat] = {"old": a, "new": b, "delta": _delta(a, b)}
        if "top" in before or "top" in after:
            old_top = {t["value"] for t in before.get("top", [])}
            new_top = {t["value"] for t in after.get("top", [])}
            stats["top_added"] = sorted(new_top - old_top)
            stats["top_removed"] = sorted(old_top - new_top)
        columns[name] = stats
    return DatasetDiff(
        old=old.uri,
        new=new.uri,
        rows_old=old.row_count,
        rows_new=new.row_count,
        added=added,
        removed=removed,
        type_changed=changed,
        columns=columns,
    )
