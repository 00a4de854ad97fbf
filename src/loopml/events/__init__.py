"""Events out: registry and loop events, read off the audit trail, sent to webhooks."""

from loopml.events.catalog import EVENT_TYPES, Event, event_of
from loopml.events.dispatcher import DispatchReport, WebhookDispatcher
from loopml.events.formats import FORMATS
from loopml.events.records import AddedWebhook, Delivery, Webhook
from loopml.events.signing import signature, verify
from loopml.events.webhooks import WebhookService

__all__ = [
    "EVENT_TYPES",
    "FORMATS",
    "AddedWebhook",
    "Delivery",
    "DispatchReport",
    "Event",
    "Webhook",
    "WebhookDispatcher",
    "WebhookService",
    "event_of",
    "signature",
    "verify",
]
