"""`WebhookService`: subscribe receivers to events, read their delivery history, redeliver.

Adding and removing a webhook is an admin's act (a webhook sends every matching event, with
its details, to a URL of the admin's choosing). A new webhook receives the events from the
moment it was added on. Only http and https URLs are accepted.
"""

from __future__ import annotations

import builtins
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, select, update

from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.events.catalog import check_patterns
from loopml.events.formats import check_format
from loopml.events.records import DEAD, DELIVERED, PENDING, STATES, AddedWebhook, Delivery, Webhook
from loopml.governance import append_event, require
from loopml.store import Stores, new_id
from loopml.store.schema import webhook_deliveries, webhooks
from loopml.validation import check_name

MAX_URL = 2000
MAX_ATTEMPTS = 50


def check_url(url: Any) -> str:
    """An absolute http(s) URL with a host; anything else is refused with the reason."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(f"a webhook URL must be a non-empty string, got {url!r}")
    text: str = url.strip()
    if len(text) > MAX_URL:
        raise ValidationError(f"a webhook URL may be at most {MAX_URL} characters")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(
            f"a webhook URL must use http or https, got {parts.scheme or 'no'} scheme in "
            f"{text!r} (e.g. https://hooks.example.com/loopml)"
        )
    if not parts.hostname:
        raise ValidationError(
            f"a webhook URL needs a host, e.g. https://hooks.example.com/x; got {text!r}"
        )
    return text


def _check_attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS:
        raise ValidationError(
            f"max_attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {value!r}"
        )
    return value


def webhook_of(row: Any) -> Webhook:
    m = row._mapping
    return Webhook(
        id=m["id"],
        name=m["name"],
        url=m["url"],
        events=list(m["events"]),
        format=m["format"],
        max_attempts=int(m["max_attempts"]),
        created_by=m["created_by"],
        created_at=float(m["created_at"]),
    )


def delivery_of(row: Any, name: str) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        webhook=name,
        event_seq=int(m["event_seq"]),
        event_type=m["event_type"],
        state=m["state"],
        attempts=int(m["attempts"]),
        next_attempt_at=float(m["next_attempt_at"]),
        created_at=float(m["created_at"]),
        finished_at=None if m["finished_at"] is None else float(m["finished_at"]),
        payload=dict(m["payload"]),
        tries=list(m["tries"]),
    )


class WebhookService:
    """Add, list, remove webhooks; list and redeliver their deliveries."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    def add(
        self,
        name: str,
        url: str,
        events: list[str] | None = None,
        *,
        format: str = "json",
        max_attempts: int = 8,
    ) -> AddedWebhook:
        """Subscribe `url` to `events` (default every event); the secret comes back once."""
        actor = self.stores.actor
        require(actor, "admin", "add webhooks")
        check_name("webhook", name)
        url = check_url(url)
        patterns = check_patterns(events)
        fmt = check_format(format)
        attempts = _check_attempts(max_attempts)
        secret = "whsec_" + secrets.token_urlsafe(32)
        now = time.time()
        row = {
            "id": new_id("wh"),
            "name": name,
            "url": url,
            "secret": secret,
            "events": patterns,
            "format": fmt,
            "max_attempts": attempts,
            "cursor": 0,
            "created_by": actor.name,
            "created_at": now,
        }
        with self.engine.begin() as conn:
            if conn.execute(select(webhooks.c.id).where(webhooks.c.name == name)).first():
                raise ConflictError(
                    f"webhook {name!r} exists; remove it first or pick another name"
                )
            event = append_event(
                conn,
                actor,
                "webhook.add",
                f"webhook:{name}",
                {"url": url, "events": patterns, "format": fmt, "max_attempts": attempts},
            )
            row["cursor"] = event.seq  # events from here on
            conn.execute(webhooks.insert().values(**row))
        return AddedWebhook(webhook_of(_Row(row)), secret)

    def get(self, name: str) -> Webhook:
        require(self.stores.actor, "read", "read webhooks")
        with self.engine.connect() as conn:
            return webhook_of(self._row(conn, name))

    def list(self) -> builtins.list[Webhook]:
        """Every webhook, oldest first (URLs in full for admins, else scheme and host)."""
        actor = self.stores.actor
        require(actor, "read", "list webhooks")
        with self.engine.connect() as conn:
            rows = conn.execute(select(webhooks).order_by(webhooks.c.created_at)).all()
        found = [webhook_of(r) for r in rows]
        if actor.at_least("admin"):
            return found
        return [_redacted(w) for w in found]

    def remove(self, name: str) -> None:
        """Stop sending to `name`; its pending deliveries and history go with it."""
        actor = self.stores.actor
        require(actor, "admin", "remove webhooks")
        with self.engine.begin() as conn:
            row = self._row(conn, name)
            dropped = conn.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == row.id)
            ).rowcount
            conn.execute(delete(webhooks).where(webhooks.c.id == row.id))
            append_event(conn, actor, "webhook.remove", f"webhook:{name}", {"deliveries": dropped})

    def deliveries(
        self, name: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> builtins.list[Delivery]:
        """Deliveries newest first: every attempt's time, status and error (`tries`)."""
        require(self.stores.actor, "read", "read webhook deliveries")
        if state is not None and state not in STATES:
            raise ValidationError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 10_000:
            raise ValidationError(f"limit must be a whole number from 1 to 10000, got {limit!r}")
        query = (
            select(webhook_deliveries, webhooks.c.name)
            .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .order_by(webhook_deliveries.c.event_seq.desc(), webhooks.c.name)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            if name is not None:
                query = query.where(webhooks.c.id == self._row(conn, name).id)
            if state is not None:
                query = query.where(webhook_deliveries.c.state == state)
            return [delivery_of(r, r.name) for r in conn.execute(query).all()]

    def redeliver(self, delivery_id: str) -> Delivery:
        """Queue a delivery again (a dead letter, or one already delivered) with a fresh
        attempt budget; its history is kept."""
        actor = self.stores.actor
        require(actor, "write", "redeliver webhook events")
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(webhook_deliveries, webhooks.c.name)
                .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                .where(webhook_deliveries.c.id == delivery_id)
            ).first()
            if row is None:
                raise NotFoundError(
                    f"no delivery {delivery_id!r}; `loopml webhook deliveries` lists them"
                )
            if row.state == PENDING:
                raise ConflictError(
                    f"delivery {delivery_id} is still pending: it is retried already"
                )
            conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    claimed_until=0.0,
                    finished_at=None,
                )
            )
            append_event(
                conn,
                actor,
                "webhook.redeliver",
                f"webhook:{row.name}",
                {"delivery": delivery_id, "event_seq": int(row.event_seq), "was": row.state},
            )
            fresh = conn.execute(
                select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
            ).one()
        return delivery_of(fresh, row.name)

    def counts(self) -> dict[str, int]:
        """Deliveries per state, for an overview."""
        require(self.stores.actor, "read", "read webhook deliveries")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(webhook_deliveries.c.state, func.count()).group_by(
                    webhook_deliveries.c.state
                )
            ).all()
        found = {str(s): int(n) for s, n in rows}
        return {s: found.get(s, 0) for s in (PENDING, DELIVERED, DEAD)}

    def _row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(webhooks).where(webhooks.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no webhook {name!r}; `loopml webhook list` shows them")
        return row


class _Row:
    """A mapping that reads like a result row (for `webhook_of` on a row just inserted)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = values


def _redacted(webhook: Webhook) -> Webhook:
    return Webhook(
        id=webhook.id,
        name=webhook.name,
        url=webhook.origin,
        events=webhook.events,
        format=webhook.format,
        max_attempts=webhook.max_attempts,
        created_by=webhook.created_by,
        created_at=webhook.created_at,
    )
