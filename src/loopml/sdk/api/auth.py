"""The `auth` namespace: who a client acts as, principals and their API tokens."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from loopml.governance import IdentityService, PrincipalRecord, require
from loopml.store.principal import Principal


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: `token` is shown this once (only its hash is stored)."""

    token: str
    token_id: str | None
    principal: str
    role: str
    label: str | None


class Auth(Protocol):
    """Identities, the same in local and remote mode (all but `whoami` need an admin)."""

    def whoami(self) -> Principal:
        """The principal this client acts as."""
        ...

    def principals(self) -> builtins.list[PrincipalRecord]:
        """Every principal with its role."""
        ...

    def get_principal(self, name: str) -> PrincipalRecord:
        """One principal."""
        ...

    def create_principal(self, name: str, role: str) -> PrincipalRecord:
        """A new principal (a person or a service) with a role."""
        ...

    def create_token(
        self, name: str, *, label: str | None = None, expires_in_s: float | None = None
    ) -> IssuedToken:
        """A new API token for principal `name` (optionally expiring)."""
        ...

    def revoke_token(self, token_id: str) -> None:
        """Refuse a token from now on."""
        ...


class LocalAuth:
    """`Auth` over the workspace's `IdentityService`; `actor` says who the client is.

    Listing and reading principals needs an admin here as on the server, so a script
    behaves the same in both modes."""

    def __init__(self, service: IdentityService, actor: Callable[[], Principal]) -> None:
        self._service = service
        self._actor = actor

    def whoami(self) -> Principal:
        return self._actor()

    def principals(self) -> builtins.list[PrincipalRecord]:
        require(self._actor(), "admin", "list principals")
        return self._service.list()

    def get_principal(self, name: str) -> PrincipalRecord:
        require(self._actor(), "admin", "read principals")
        return self._service.get(name)

    def create_principal(self, name: str, role: str) -> PrincipalRecord:
        return self._service.create_principal(name, role)

    def create_token(
        self, name: str, *, label: str | None = None, expires_in_s: float | None = None
    ) -> IssuedToken:
        require(self._actor(), "admin", "create tokens")
        principal = self._service.get(name)
        token = self._service.create_token(principal.name, label=label, expires_in_s=expires_in_s)
        return IssuedToken(
            token, self._service.token_id(token), principal.name, principal.role, label
        )

    def revoke_token(self, token_id: str) -> None:
        self._service.revoke_token(token_id)
