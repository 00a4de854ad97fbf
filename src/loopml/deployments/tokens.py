"""Data-plane tokens: a secret that lets its holder predict or send feedback to one deployment.

Control-plane tokens (governance) say who a person is; these say what a client of one
endpoint may do, so a leaked predict token cannot poison monitoring with feedback and a
token for one deployment opens no other. Stored as SHA-256 hashes, shown once.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update

from loopml.errors import NotFoundError, ValidationError
from loopml.governance import append_event, require
from loopml.store import Stores, new_id
from loopml.store.schema import deployment_tokens, deployments

TOKEN_PREFIX = "lmd_"
SCOPES = ("predict", "feedback")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class DeploymentToken:
    """A token's record; `token` (the secret) is set only in what `create` returns."""

    id: str
    deployment: str
    scopes: tuple[str, ...]
    label: str | None
    created_by: str
    created_at: float
    expires_at: float | None
    revoked: bool
    token: str | None = None

    def active(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class Grant:
    """What a valid token allows, as the serving app checks it on every request."""

    token_id: str
    deployment: str
    scopes: frozenset[str]
    expires_at: float | None


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise ValidationError(
            f"token scopes must be some of {', '.join(SCOPES)}, got {', '.join(scopes) or 'none'}"
        )
    return tuple(s for s in SCOPES if s in scopes)


class DeploymentTokenService:
    """Create, list and revoke data-plane tokens; hand the serving app the valid ones."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def create(
        self,
        deployment: str,
        scopes: Sequence[str],
        *,
        label: str | None = None,
        expires_in_s: float | None = None,
    ) -> DeploymentToken:
        """A new token for `deployment`; the secret is in `.token`, and only here."""
        actor = self.stores.actor
        require(actor, "write", "create deployment tokens")
        chosen = check_scopes(scopes)
        if expires_in_s is not None and expires_in_s <= 0:
            raise ValidationError(f"expires_in_s must be positive, got {expires_in_s}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        record = DeploymentToken(
            id=new_id("dtok"),
            deployment=deployment,
            scopes=chosen,
            label=label,
            created_by=actor.name,
            created_at=now,
            expires_at=now + expires_in_s if expires_in_s else None,
            revoked=False,
        )
        with self.stores.engine.begin() as conn:
            found = conn.execute(
                select(deployments.c.name).where(deployments.c.name == deployment)
            ).first()
            if found is None:
                raise NotFoundError(
                    f"no deployment {deployment!r}; `loopml deploy list` shows them"
                )
            conn.execute(
                deployment_tokens.insert().values(
                    id=record.id,
                    deployment=deployment,
                    scopes=",".join(chosen),
                    token_hash=hash_token(token),
                    label=label,
                    created_by=record.created_by,
                    created_at=now,
                    expires_at=record.expires_at,
                    revoked=False,
                )
            )
            append_event(
                conn,
                actor,
                "deployment.token.create",
                f"deployment:{deployment}",
                {"token_id": record.id, "scopes": list(chosen), "label": label},
            )
        return DeploymentToken(**{**record.__dict__, "token": token})

    def revoke(self, token_id: str) -> DeploymentToken:
        """Revoke a token; servers refuse it from their next poll (within a second)."""
        actor = self.stores.actor
        require(actor, "write", "revoke deployment tokens")
        with self.stores.engine.begin() as conn:
            row = conn.execute(
                select(deployment_tokens).where(deployment_tokens.c.id == token_id)
            ).first()
            if row is None:
                raise NotFoundError(
                    f"no deployment token {token_id!r}; `loopml deploy token list` shows them"
                )
            conn.execute(
                update(deployment_tokens)
                .where(deployment_tokens.c.id == token_id)
                .values(revoked=True)
            )
            append_event(
                conn,
                actor,
                "deployment.token.revoke",
                f"deployment:{row.deployment}",
                {"token_id": token_id},
            )
        return _record({**row._mapping, "revoked": True})

    def list(self, deployment: str | None = None) -> builtins.list[DeploymentToken]:
        """Every token (of one deployment), newest first, secrets never included."""
        require(self.stores.actor, "read", "list deployment tokens")
        query = select(deployment_tokens).order_by(deployment_tokens.c.created_at.desc())
        if deployment is not None:
            query = query.where(deployment_tokens.c.deployment == deployment)
        with self.stores.engine.connect() as conn:
            return [_record(dict(row._mapping)) for row in conn.execute(query)]

    def grants(self, names: Sequence[str] | None = None) -> dict[str, Grant]:
        """The valid tokens by hash (of the deployments `names`, default all): one query."""
        query = select(
            deployment_tokens.c.id,
            deployment_tokens.c.deployment,
            deployment_tokens.c.scopes,
            deployment_tokens.c.token_hash,
            deployment_tokens.c.expires_at,
        ).where(deployment_tokens.c.revoked.is_(False))
        if names is not None:
            query = query.where(deployment_tokens.c.deployment.in_(list(names)))
        now = time.time()
        with self.stores.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {
            row.token_hash: Grant(
                row.id, row.deployment, frozenset(row.scopes.split(",")), row.expires_at
            )
            for row in rows
            if row.expires_at is None or row.expires_at > now
        }


def _record(row: dict[str, object]) -> DeploymentToken:
    fields = {k: v for k, v in row.items() if k != "token_hash"}
    fields["scopes"] = tuple(str(fields["scopes"]).split(","))
    return DeploymentToken(**fields)  # type: ignore[arg-type]
