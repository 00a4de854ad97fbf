"""Keyset pages for every listing: a page continues after the last row of the one before.

A listing orders its rows by a few immutable columns ending with a unique one (a version
number, a sequence number, an id). A page token holds the sort values of the last row
shown, so the next page is `WHERE (k1, k2, …) > (v1, v2, …) ORDER BY k1, k2, … LIMIT n`:
an index range read, however deep the page, and rows inserted between two pages are
neither repeated nor do they shift anything (a row lands before the position, and is not
shown, or after it, and is shown once). The token also carries the listing's name and a
digest of its filters, so a token passed to another listing or with other filters is
refused with a clear error instead of silently skipping rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Float, Integer, Row, Select, and_, or_

from loopml.errors import ValidationError

T = TypeVar("T")
MAX_PAGE = 50_000  # the largest page any listing returns


class Page(list[T]):
    """One page of a listing; `next_page_token` is None on the last page."""

    def __init__(self, items: Sequence[T], next_page_token: str | None) -> None:
        super().__init__(items)
        self.next_page_token = next_page_token


@dataclass(frozen=True)
class SortKey:
    """One sort column of a listing (never NULL, never changed once written)."""

    column: ColumnElement[Any]
    descending: bool = False


def check_max_results(value: Any, name: str = "max_results") -> int:
    """`value` when it is a page size from 1 to MAX_PAGE; a ValidationError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PAGE:
        raise ValidationError(f"{name} must be an integer from 1 to {MAX_PAGE:,}, got {value!r}")
    return value


class Keyset:
    """The order of one listing and the pages it reads."""

    def __init__(self, listing: str, keys: Sequence[SortKey]) -> None:
        self.listing = listing
        self.keys = tuple(keys)

    def page(
        self,
        conn: Connection,
        query: Select[Any],
        *,
        max_results: int,
        page_token: str | None,
        scope: Mapping[str, Any] | None = None,
    ) -> tuple[list[Row[Any]], str | None]:
        """The rows of one page of `query` (its WHERE clauses are the filters, `scope`
        names them for the token) and the next page's token. The query must select the
        sort columns under their own names."""
        check_max_results(max_results)
        fingerprint = scope_fingerprint(scope or {})
        after = self.decode(page_token, fingerprint)
        if after is not None:
            query = query.where(self._after(after))
        for key in self.keys:
            query = query.order_by(key.column.desc() if key.descending else key.column.asc())
        rows = list(conn.execute(query.limit(max_results + 1)))
        if len(rows) <= max_results:
            return rows, None
        last = rows[max_results - 1]._mapping
        values = [last[key.column.name] for key in self.keys]
        return rows[:max_results], self.encode(values, fingerprint)

    def encode(self, values: Sequence[Any], fingerprint: str) -> str:
        return encode_token(self.listing, fingerprint, values)

    def decode(self, token: str | None, fingerprint: str) -> list[Any] | None:
        """The sort values a token continues after (None: the first page)."""
        if token is None:
            return None
        after = decode_after(token, self.listing, fingerprint, len(self.keys))
        for key, value in zip(self.keys, after, strict=True):
            if not _fits(key.column, value):
                raise bad_token(self.listing)
        return after

    def _after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows after `values` in this order (the first key's bound repeated outside the OR
        lets an index range start there)."""
        later: list[ColumnElement[bool]] = []
        equal: list[ColumnElement[bool]] = []
        for key, value in zip(self.keys, values, strict=True):
            beyond = key.column < value if key.descending else key.column > value
            later.append(and_(*equal, beyond))
            equal.append(key.column == value)
        first, bound = self.keys[0], values[0]
        lead = first.column <= bound if first.descending else first.column >= bound
        return and_(lead, or_(*later))


def encode_token(listing: str, fingerprint: str, values: Sequence[Any]) -> str:
    """A page token: the listing, its filters' fingerprint, the last row's sort values."""
    body = json.dumps({"l": listing, "f": fingerprint, "a": list(values)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_after(token: Any, listing: str, fingerprint: str, count: int) -> list[Any]:
    """The `count` sort values of a token of `listing` issued for the same filters."""
    found = decode_token(token, listing)
    if found.get("f") != fingerprint:
        raise ValidationError(
            f"page_token was issued for other filters of {listing}; repeat the filters of "
            "the first page, or drop the token to start over"
        )
    after = found.get("a")
    if not isinstance(after, list) or len(after) != count:
        raise bad_token(listing)
    return after


def decode_token(token: Any, listing: str) -> dict[str, Any]:
    """The fields of a page token of `listing`; ValidationError for anything else."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise bad_token(listing)
    try:
        padded = token + "=" * (-len(token) % 4)
        found = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise bad_token(listing) from None
    if not isinstance(found, dict):
        raise bad_token(listing)
    if found.get("l") != listing:
        other = found.get("l")
        where = f" (it belongs to {other})" if isinstance(other, str) else ""
        raise ValidationError(
            f"page_token is not a token of {listing}{where}; pass back the token the previous "
            "page of this listing returned"
        )
    return found


def bad_token(listing: str) -> ValidationError:
    """The error for a token that is damaged, edited or not from this store."""
    return ValidationError(
        f"page_token is not one this store issued for {listing} (damaged or edited); pass "
        "it back exactly as the previous page returned it, or drop it to start over"
    )


def _fits(column: ColumnElement[Any], value: Any) -> bool:
    """Whether a token value has the type of its column (a crafted token is refused)."""
    kind = column.type
    if isinstance(kind, Integer):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(kind, Float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def scope_fingerprint(scope: Mapping[str, Any]) -> str:
    """A short digest of a listing's filters, carried by its page tokens."""
    body = json.dumps(scope, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def every_page(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a listing, a page at a time (`fetch(token)` reads one page)."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page
        token = page.next_page_token
        if token is None:
            return
