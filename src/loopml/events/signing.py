"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

A receiver recomputes `sha256=hex(HMAC(secret, f"{timestamp}.".encode() + body))`, compares
it in constant time with `X-Loopml-Signature`, and refuses a `X-Loopml-Timestamp` too far
from its clock, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Loopml-Signature"
TIMESTAMP_HEADER = "X-Loopml-Timestamp"
EVENT_HEADER = "X-Loopml-Event"
DELIVERY_HEADER = "X-Loopml-Delivery"
DEFAULT_TOLERANCE_S = 300.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp` (epoch seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signed: str | None,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `signed` is the signature of `body` at `timestamp` and the timestamp is
    within `tolerance_s` of `now`: what a receiver runs on each request."""
    if not timestamp or not signed:
        return False
    try:
        at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - at) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, at, body), signed)
