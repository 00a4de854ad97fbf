"""Ids: short enough to read, random enough never to collide, and typed by prefix like git.

An id is a kind prefix and 24 hex digits (96 random bits), e.g. `run-3f9c2a1b7d4e0c6a9b8f1e2d`.
Ids of 8 hex digits (32 bits) collided by the tens of thousands (a birthday bound of about
77,000 ids for even odds); with 96 bits, a billion ids collide with a probability near
10^-11. People need not type all of it: `resolve_prefix` accepts any unambiguous start
of an id, as git does with commits, and names every candidate when the start is ambiguous.
Ids made before (8 hex digits) stay valid: they are simply shorter.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import Column, Connection, Table, select

from loopml.errors import NotFoundError, ValidationError

ID_HEX_DIGITS = 24
SHORT_HEX_DIGITS = 8  # what listings show; any unambiguous prefix is accepted back
_CANDIDATES_SHOWN = 10

# The source of randomness, a seam for tests that force it into collisions.
random_hex: Callable[[int], str] = secrets.token_hex


def new_id(prefix: str) -> str:
    """A readable, random id such as `run-3f9c2a1b7d4e0c6a9b8f1e2d`."""
    return f"{prefix}-{random_hex(ID_HEX_DIGITS // 2)}"


def short_id(full: str) -> str:
    """The first digits of an id, for tables meant for people (`run-3f9c2a1b`)."""
    prefix, dash, digits = full.rpartition("-")
    return f"{prefix}{dash}{digits[:SHORT_HEX_DIGITS]}" if dash else full


def resolve_prefix(conn: Connection, table: Table, typed: str, what: str, hint: str = "") -> str:
    """The one id in `table` that is `typed` or starts with it.

    Raises NotFoundError when none does and ValidationError, naming the candidates, when
    several do. An exact id wins over longer ids it is a prefix of (old 8-digit ids)."""
    column: Column[str] = table.c.id
    exact = conn.execute(select(column).where(column == typed)).scalar()
    if exact is not None:
        return str(exact)
    missing = f"no {what} {typed}" + (f"; {hint}" if hint else "")
    if not typed:
        raise NotFoundError(missing)
    # A range on the primary key: an index seek on SQLite and PostgreSQL alike (LIKE is not,
    # in SQLite, for case-sensitive text).
    upper = typed[:-1] + chr(ord(typed[-1]) + 1)
    found = [
        str(v)
        for v in conn.execute(
            select(column)
            .where(column > typed, column < upper)
            .order_by(column)
            .limit(_CANDIDATES_SHOWN + 1)
        ).scalars()
    ]
    if not found:
        raise NotFoundError(missing)
    if len(found) > 1:
        shown = ", ".join(found[:_CANDIDATES_SHOWN])
        more = " and more" if len(found) > _CANDIDATES_SHOWN else ""
        raise ValidationError(
            f"{what} id {typed!r} is ambiguous: it starts {shown}{more}; type more of the id"
        )
    return found[0]
