"""Upload tickets: what the server promised when it handed out a presigned PUT URL.

A ticket names the run, the artifact path, the digest and size the client announced, the
principal it was given to and when its URL expires, under a MAC keyed by the server's
secret. Committing an upload needs its ticket, so nothing but what the server signed can
be recorded — not a run the ticket was not issued for, not another principal's upload —
and any replica of the server (sharing the secret) can check it without a stored record.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import asdict, dataclass

import orjson

from loopml.server.errors import ApiError

COMMIT_GRACE_S = 6 * 3600  # an upload started just before its URL expires may take hours
_LABEL = b"loopml upload tickets"


@dataclass(frozen=True)
class UploadTicket:
    upload_id: str
    run_id: str
    path: str
    digest: str
    size: int
    principal: str
    expires_at: float


def ticket_key(secret: bytes) -> bytes:
    """The tickets' own key, derived from the server secret (never the secret itself)."""
    return hmac.new(secret, _LABEL, hashlib.sha256).digest()


def sign_ticket(key: bytes, ticket: UploadTicket) -> str:
    payload = base64.urlsafe_b64encode(orjson.dumps(asdict(ticket))).decode().rstrip("=")
    mac = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def read_ticket(key: bytes, text: str) -> UploadTicket:
    """The ticket `text` stands for, or a 403 when this server did not sign it."""
    payload, _, mac = text.partition(".")
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(mac, expected):
        raise _refused("the upload ticket was not issued by this server or was altered")
    try:
        fields = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return UploadTicket(**fields)
    except (ValueError, TypeError):
        raise _refused("the upload ticket is unreadable") from None


def check_ticket(ticket: UploadTicket, run_id: str, upload_id: str, principal: str) -> None:
    """Refuse a ticket used for another run or upload, by another principal, or too late."""
    if ticket.run_id != run_id or ticket.upload_id != upload_id:
        raise _refused(
            f"this ticket is for upload {ticket.upload_id} of run {ticket.run_id}, "
            f"not upload {upload_id} of run {run_id}"
        )
    if ticket.principal != principal:
        raise _refused(f"this ticket was issued to another principal, not {principal}")
    if time.time() > ticket.expires_at + COMMIT_GRACE_S:
        raise _refused("this ticket expired; ask for a new upload URL and upload again")


def _refused(detail: str) -> ApiError:
    return ApiError(
        403, "forbidden", detail, "commit an upload with the ticket the server gave for it"
    )
