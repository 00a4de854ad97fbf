"""Aliases: movable names (`champion`, `staging`) pointing at one version of a model.

Every write to the alias table goes through here, inside the caller's transaction, and
leaves an audit event. Protected aliases never move directly: the registry refuses them
(`refuse_protected`) and only an approved request (approvals.py) calls `move_alias`.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, select

from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.governance import append_event
from loopml.store.schema import model_aliases

DEFAULT_PROTECTED = ("champion",)
_ALIAS_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def check_alias(alias: str) -> str:
    """The alias itself, or a clear error; numbers and `latest` would shadow version refs."""
    if (
        not isinstance(alias, str)
        or not alias
        or len(alias) > 64
        or not set(alias) <= _ALIAS_OK
        or alias.isdigit()
        or alias == "latest"
    ):
        raise ValidationError(
            f"alias {alias!r} must be 1-64 letters, digits, '_' or '-', not a number or 'latest'"
        )
    return alias


def refuse_protected(name: str, alias: str, protected: list[str], how: str) -> None:
    """Raise unless `alias` of model `name` may be changed directly; `how` ends the message."""
    if alias in protected:
        raise ConflictError(f"alias {alias!r} of {name} is protected{how}")


def alias_target(conn: Connection, name: str, alias: str) -> int | None:
    """The version `name@alias` points at, or None."""
    target = conn.execute(
        select(model_aliases.c.version).where(
            model_aliases.c.model == name, model_aliases.c.alias == alias
        )
    ).scalar()
    return None if target is None else int(target)


def aliases_of(conn: Connection, name: str) -> dict[str, int]:
    """Every alias of model `name` with its version."""
    rows = conn.execute(
        select(model_aliases.c.alias, model_aliases.c.version).where(model_aliases.c.model == name)
    ).all()
    return {alias: int(version) for alias, version in rows}


def move_alias(conn: Connection, name: str, alias: str, version: int, actor: str) -> int | None:
    """Set `alias` → `version` in the caller's transaction; returns the previous version."""
    previous = alias_target(conn, name, alias)
    conn.execute(
        model_aliases.delete().where(model_aliases.c.model == name, model_aliases.c.alias == alias)
    )
    conn.execute(
        model_aliases.insert().values(
            model=name, alias=alias, version=version, updated_by=actor, updated_at=time.time()
        )
    )
    append_event(
        conn, actor, "alias.move", f"model:{name}@{alias}", {"from": previous, "to": version}
    )
    return previous


def remove_alias(conn: Connection, name: str, alias: str, actor: str) -> None:
    """Delete `name@alias` in the caller's transaction (audited)."""
    done = conn.execute(
        model_aliases.delete().where(model_aliases.c.model == name, model_aliases.c.alias == alias)
    )
    if done.rowcount == 0:
        raise NotFoundError(f"model {name!r} has no alias {alias!r}")
    append_event(conn, actor, "alias.delete", f"model:{name}@{alias}")
