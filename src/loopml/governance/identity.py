"""Principals, roles and API tokens (stored as SHA-256 hashes, shown once at creation)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
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
        if not actor.authenticated:
            raise PermissionDeniedError(
                f"{actor.name} may not {what} without an API token: this workspace sets "
                "require_tokens; pass --token or set LOOPML_TOKEN (`loopml auth token create`)"
            )
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

    def token_id(self, token: str) -> str | None:
        """The id of a token (one just created, say, to revoke it later); None if unknown."""
        with self.stores.engine.connect() as conn:
            found = conn.execute(
                select(tokens.c.id).where(tokens.c.token_hash == hash_token(token))
            ).scalar()
        return None if found is None else str(found)

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
        return self.check_token(token)[0]

    def check_token(self, token: str) -> tuple[Principal, float | None]:
        """The token's principal and expiry time; refuses unknown, revoked or expired ones."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise PermissionDeniedError("the API token is malformed; tokens start with 'lml_'")
        row = _token_row(self.stores.engine, hash_token(token))
        if row is None or row[3] or row[2]:
            raise PermissionDeniedError("the API token is unknown or revoked")
        name, role, _, _, expires_at = row
        if expires_at is not None and expires_at <= time.time():
            raise PermissionDeniedError(EXPIRED)
        return Principal(str(name), str(role)), None if expires_at is None else float(expires_at)


_TOKEN_ROW = (
    "SELECT p.name, p.role, p.disabled, t.revoked, t.expires_at FROM tokens t "
    "JOIN principals p ON p.id = t.principal_id WHERE t.token_hash = {mark}"
)


def _token_row(engine: Engine, token_hash: str) -> Any:
    """The token's row, read outside any transaction: the check runs in the middle of
    service calls whose thread may hold the (SQLite) write lock on another connection."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(_TOKEN_ROW.format(mark=mark), (token_hash,))
            return cursor.fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()  # back to the pool, its read transaction (PostgreSQL) rolled back


EXPIRED = "the API token has expired; ask an admin for a new one"


class TokenSession:
    """An `ActorSource` for a logged-in token, checked again on use.

    Expiry is checked on every call; revocation, a disabled principal or a changed role
    are seen at most `interval_s` seconds late (0: one query per call). A refused token
    stays refused.
    """

    def __init__(self, identity: IdentityService, token: str, interval_s: float) -> None:
        self.identity = identity
        self.token = token
        self.interval_s = interval_s
        self.principal, self.expires_at = identity.check_token(token)
        self.checked_at = time.monotonic()

    def current(self) -> Principal:
        now = time.monotonic()
        if self.expires_at is not None and self.expires_at <= time.time():
            raise PermissionDeniedError(EXPIRED)
        if now - self.checked_at >= self.interval_s:
            self.principal, self.expires_at = self.identity.check_token(self.token)
            self.checked_at = now
        return self.principal
