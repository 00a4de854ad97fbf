"""Who is acting: a principal's name and role, carried by every service call."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from typing import Protocol

if sys.platform != "win32":
    import pwd

ROLES = ("viewer", "editor", "approver", "admin")

#: Names of unauthenticated local actors start with this; principal names cannot.
LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class Principal:
    """An identity with one role; roles are ordered viewer < editor < approver < admin.

    `authenticated` is False for the local operating-system user acting without a token:
    whoever can open an embedded workspace can act, so that identity proves nothing.
    """

    name: str
    role: str
    authenticated: bool = True

    @property
    def rank(self) -> int:
        return ROLES.index(self.role)

    def at_least(self, role: str) -> bool:
        return self.rank >= ROLES.index(role)


class ActorSource(Protocol):
    """Says who acts now; asked on every service call, so it may refuse a revoked token."""

    def current(self) -> Principal: ...


@dataclass(frozen=True)
class FixedActor:
    """An actor that never changes (the local user, or a service identity)."""

    principal: Principal

    def current(self) -> Principal:
        return self.principal


def os_user() -> str:
    """The operating-system account running this process (not a variable one can set)."""
    if sys.platform != "win32":
        try:
            return pwd.getpwuid(os.getuid()).pw_name
        except KeyError:  # a uid without an entry (some containers)
            return f"uid{os.getuid()}"
    return getpass.getuser()


def local_principal(require_tokens: bool = False) -> Principal:
    """The embedded default: `local:<os user>`, unauthenticated; an admin unless the
    workspace requires tokens, in which case it may only read."""
    return Principal(
        name=LOCAL_PREFIX + os_user(),
        role="viewer" if require_tokens else "admin",
        authenticated=False,
    )
