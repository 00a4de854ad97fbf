"""The UI's session: a signed, stateless cookie that carries the API token it was opened
with, and the CSRF tokens derived from it.

Nothing is stored on the server: the cookie holds the token (so every page resolves it
exactly as the API resolves a bearer token, and revocation or expiry end the session) and
an HMAC over it with a key of the workspace, so a cookie cannot be forged or altered.
The cookie is HttpOnly, Secure and SameSite=Strict; forms also carry a synchronizer token
(an HMAC of the session's nonce), so a cross-site POST is refused even by an old browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

SESSION_COOKIE = "loopml_session"
LOGIN_CSRF_COOKIE = "loopml_login_csrf"
COOKIE_PATH = "/ui"
MAX_AGE_S = 12 * 3600  # a browser session is re-opened with the token after this
KEY_BYTES = 32


@dataclass(frozen=True)
class Session:
    """An opened session: the API token, when it was opened, and its nonce."""

    token: str
    issued_at: int
    nonce: str


class SessionSigner:
    """Encode, sign and check session cookies and CSRF tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"the session key must have at least {KEY_BYTES} bytes")
        self._key = key

    def _mac(self, purpose: str, *parts: str) -> str:
        message = "\x1f".join((purpose, *parts)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def open(self, token: str) -> str:
        """A new session cookie value for `token`."""
        issued = str(int(time.time()))
        nonce = secrets.token_urlsafe(16)
        encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
        return ".".join((encoded, issued, nonce, self._mac("session", encoded, issued, nonce)))

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when it is missing, altered or too old."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        encoded, issued, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac("session", encoded, issued, nonce)):
            return None
        if not issued.isdigit() or time.time() - int(issued) > MAX_AGE_S:
            return None
        try:
            token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return Session(token, int(issued), nonce)

    def csrf_token(self, session: Session) -> str:
        """The synchronizer token every form of this session carries."""
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: Session, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(str(sent), self.csrf_token(session))


def load_key(path: Path) -> bytes:
    """The workspace's session key, created (owner-only) on first use, so sessions
    outlive a restart of the server."""
    try:
        key = path.read_bytes()
        if len(key) >= KEY_BYTES:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    try:
        os.link(partial, path)  # the first writer wins; a racing start reads its key
    except FileExistsError:
        key = path.read_bytes()
    finally:
        partial.unlink()
    return key
