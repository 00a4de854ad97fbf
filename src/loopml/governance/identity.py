"""Principals, roles and API tokens (stored as SHA-256 hashes, shown once at creation)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance.audit import append_event
from loopml.store import Stores, new_id
from loopml.store.principal import ROLES, Principal
from loopml.store.schema import principals, tokens
from loopml.validation import check_name

TOKEN_PREFIX = "lml_"

#: The least role each kind of change needs.
PERMISSIONS = {
    "read": "viewer",
    "write": "editor",  # log datasets and runs, register versions, request alias moves
    "approve": "approver",  # decide approval requests
    "admin": "admin",  # principals, tokens, policies
}


def require(actor: Principal, permission: str, what: str) -> None:
    """Raise PermissionDeniedError unless `actor`'s role allows `permission`."""
    needed = PERMISSIONS[permission]
    if not actor.at_least(needed):
        raise PermissionDeniedError(
            f"{actor.name} ({actor.role}) may not {what}: it needs the {needed} role or higher; "
            "ask an admin (`loopml auth principal create --role ...`)"
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PrincipalRecord:
    id: str
    name: str
    role: str
    disabled: bool
    created_by: str
    created_at: float


class IdentityService:
    """Create principals and tokens; resolve a token to its principal."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def create_principal(self, name: str, role: str) -> PrincipalRecord:
        actor = self.stores.actor
        require(actor, "admin", "create principals")
        check_name("principal", name)
        if role not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        record = PrincipalRecord(new_id("pr"), name, role, False, actor.name, time.time())
        try:
            with self.stores.engine.begin() as conn:
                conn.execute(principals.insert().values(**record.__dict__))
                append_event(conn, actor, "principal.create", f"principal:{name}", {"role": role})
        except IntegrityError as exc:
            raise ConflictError(f"a principal named {name!r} already exists") from exc
        return record

    def get(self, name: str) -> PrincipalRecord:
        with self.stores.engine.connect() as conn:
            row = conn.execute(select(principals).where(principals.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no principal {name!r}; `loopml auth principal list` shows them")
        return PrincipalRecord(**dict(row._mapping))

    def list(self) -> list[PrincipalRecord]:
        with self.stores.engine.connect() as conn:
            rows = conn.execute(select(principals).order_by(principals.c.name))
            return [PrincipalRecord(**dict(r._mapping)) for r in rows]

    def create_token(
        self, name: str, label: str | None = None, expires_in_s: float | None = None
    ) -> str:
        """A new token for principal `name`; the plain token is returned only here."""
        actor = self.stores.actor
        require(actor, "admin", "create tokens")
        principal = self.get(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        with self.stores.engine.begin() as conn:
            token_id = new_id("tok")
            conn.execute(
                tokens.insert().values(
                    id=token_id,
                    principal_id=principal.id,
                    token_hash=hash_token(token),
                    label=label,
                    created_at=now,
                    expires_at=now + expires_in_s if expires_in_s else None,
                    revoked=False,
                )
            )
            append_event(
                conn,
                actor,
                "token.create",
                f"principal:{name}",
                {"token_id": token_id, "label": label},
            )
        return token

    def revoke_token(self, token_id: str) -> None:
        actor = self.stores.actor
        require(actor, "admin", "revoke tokens")
        with self.stores.engine.begin() as conn:
            done = conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked=True))
            if done.rowcount == 0:
                raise NotFoundError(f"no token {token_id}")
            append_event(conn, actor, "token.revoke", f"token:{token_id}")

    def authenticate(self, token: str) -> Principal:
        """The principal a token belongs to; refuses unknown, revoked or expired tokens."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise PermissionDeniedError("the API token is malformed; tokens start with 'lml_'")
        with self.stores.engine.connect() as conn:
            row = conn.execute(
                select(
                    principals.c.name,
                    principals.c.role,
                    principals.c.disabled,
                    tokens.c.revoked,
                    tokens.c.expires_at,
                )
                .join(principals, principals.c.id == tokens.c.principal_id)
                .where(tokens.c.token_hash == hash_token(token))
            ).first()
        if row is None or row.revoked or row.disabled:
            raise PermissionDeniedError("the API token is unknown or revoked")
        if row.expires_at is not None and row.expires_at < time.time():
            raise PermissionDeniedError("the API token has expired; ask an admin for a new one")
        return Principal(row.name, row.role)
