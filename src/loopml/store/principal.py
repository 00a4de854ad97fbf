"""Who is acting: a principal's name and role, carried by every service call."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "editor", "approver", "admin")


@dataclass(frozen=True)
class Principal:
    """An identity with one role; roles are ordered viewer < editor < approver < admin."""

    name: str
    role: str

    @property
    def rank(self) -> int:
        return ROLES.index(self.role)

    def at_least(self, role: str) -> bool:
        return self.rank >= ROLES.index(role)


def local_admin(name: str) -> Principal:
    """The embedded default: the local user acts as admin without ceremony."""
    return Principal(name=name, role="admin")
