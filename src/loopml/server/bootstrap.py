"""First start: a store without principals gets an admin, whose token is shown once.

Only the token's hash is stored, so the plain token exists in exactly one place: the
standard output of the `loopml server` that created it. Concurrent first starts (several
replicas) create one admin between them: the others find it and print nothing.
"""

from __future__ import annotations

from loopml.config.settings import Settings
from loopml.errors import ConflictError
from loopml.governance import IdentityService
from loopml.store import open_stores
from loopml.store.principal import LOCAL_PREFIX, FixedActor, Principal, os_user

ADMIN = "admin"


def server_principal() -> Principal:
    """Who the server itself acts as (the first admin, the controller): the operating-system
    user running it, who holds the store's credentials anyway."""
    return Principal(LOCAL_PREFIX + os_user(), "admin", authenticated=False)


def bootstrap_admin(settings: Settings) -> str | None:
    """Create principal `admin` and a token for it when the store has no principal yet;
    returns that token (None when the store already had principals)."""
    stores = open_stores(settings)
    try:
        stores.identity = FixedActor(server_principal())
        identity = IdentityService(stores)
        if identity.list():
            return None
        try:
            identity.create_principal(ADMIN, "admin")
        except ConflictError:
            return None  # another replica's first start won
        return identity.create_token(ADMIN, label="created by the first server start")
    finally:
        stores.close()


def announce(token: str) -> str:
    """The lines printed once, on standard output, about a bootstrap token."""
    return (
        f"loopml server: the store had no principals, so principal {ADMIN!r} (role admin) was "
        "created. Its API token, shown this once and never again:\n\n"
        f"    {token}\n\n"
        "Keep it safe (export LOOPML_TOKEN=<token>); create the team's principals and tokens "
        "with `loopml auth principal create` and `loopml auth token create`."
    )
