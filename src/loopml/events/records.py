"""Webhook subscriptions and deliveries as the store keeps them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
STATES = (PENDING, DELIVERED, DEAD)


@dataclass(frozen=True)
class Webhook:
    """A subscriber: where events go, which ones, in which format. The secret is not here:
    it is shown once, when the webhook is added."""

    id: str
    name: str
    url: str
    events: list[str]
    format: str
    max_attempts: int
    created_by: str
    created_at: float

    @property
    def origin(self) -> str:
        """Scheme and host only: what people below admin see (a Slack URL is a secret)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/…"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AddedWebhook:
    """A webhook just added and its signing secret, which is never shown again."""

    webhook: Webhook
    secret: str


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one webhook, with every attempt made so far (`tries`)."""

    id: str
    webhook: str
    event_seq: int
    event_type: str
    state: str
    attempts: int
    next_attempt_at: float
    created_at: float
    finished_at: float | None
    payload: dict[str, Any]
    tries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_status(self) -> int | None:
        return self.tries[-1].get("status") if self.tries else None

    @property
    def last_error(self) -> str | None:
        return self.tries[-1].get("error") if self.tries else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
