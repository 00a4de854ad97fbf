"""Who may call a served deployment: deployment tokens checked on every request.

The valid tokens (hashes, scopes, expiry) are reloaded by the watcher on each poll, so a
revoked token is refused within `poll_interval_s` and an expired one at once, while the
request path costs one SHA-256 and one dict lookup. `open` mode asks for nothing (demos).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal

from loopml.deployments.tokens import Grant, hash_token
from loopml.serving.errors import ServingError

AuthMode = Literal["tokens", "open"]
AUTH_MODES: tuple[AuthMode, ...] = ("tokens", "open")
_BEARER = "bearer "


class DataPlaneAuth:
    """The token check of one serving app."""

    def __init__(
        self,
        mode: AuthMode,
        load: Callable[[Sequence[str] | None], dict[str, Grant]],
        names: Sequence[str] | None = None,
    ) -> None:
        if mode not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, got {mode!r}")
        self.mode = mode
        self._load = load
        self._names = names
        self.grants: dict[str, Grant] = {}  # replaced, never mutated: readers need no lock

    @property
    def required(self) -> bool:
        return self.mode == "tokens"

    def refresh(self) -> None:
        """Reload the valid tokens (one query); called by the watcher on each poll."""
        if self.required:
            self.grants = self._load(self._names)

    def check(self, authorization: str | None, deployment: str, scope: str) -> Grant | None:
        """The grant that allows `scope` on `deployment`; 401 or 403 otherwise (None if open)."""
        if not self.required:
            return None
        if authorization is None or not authorization.lower().startswith(_BEARER):
            raise _unauthorized(
                "this request carries no deployment token",
                f"send 'Authorization: Bearer <token>'; create one with `loopml deploy token "
                f"create {deployment} --scope {scope}`",
            )
        grant = self.grants.get(hash_token(authorization[len(_BEARER) :].strip()))
        if grant is None or (grant.expires_at is not None and grant.expires_at <= time.time()):
            raise _unauthorized(
                "the deployment token is unknown, revoked or expired",
                f"ask for a new one (`loopml deploy token create {deployment} --scope {scope}`)",
            )
        if grant.deployment != deployment or scope not in grant.scopes:
            raise ServingError.one(
                403,
                "authorization",
                f"this token ({grant.token_id}) does not allow {scope} on {deployment!r}",
                f"use a token created with `loopml deploy token create {deployment} "
                f"--scope {scope}`",
            )
        return grant


def _unauthorized(problem: str, hint: str) -> ServingError:
    challenge = {"www-authenticate": 'Bearer realm="loopml"'}
    return ServingError.one(401, "authorization", problem, hint, challenge)
