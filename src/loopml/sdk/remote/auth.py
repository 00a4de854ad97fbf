"""The `auth` namespace over `loopml server`."""

from __future__ import annotations

import builtins
from typing import Any
from urllib.parse import quote

from loopml.governance import PrincipalRecord
from loopml.sdk.api.auth import IssuedToken
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.records import principal_record
from loopml.store.principal import Principal


class RemoteAuth:
    """`Auth` (loopml.sdk.api.auth) in remote mode."""

    def __init__(self, http: RemoteHttp) -> None:
        self._http = http

    def whoami(self) -> Principal:
        found = self._http.call("GET", "/auth/whoami")
        return Principal(str(found["name"]), str(found["role"]))

    def principals(self) -> builtins.list[PrincipalRecord]:
        found = self._http.call("GET", "/auth/principals")["principals"]
        return [principal_record(item) for item in found]

    def get_principal(self, name: str) -> PrincipalRecord:
        return principal_record(self._http.call("GET", f"/auth/principals/{quote(name, safe='')}"))

    def create_principal(self, name: str, role: str) -> PrincipalRecord:
        body = {"name": name, "role": role}
        return principal_record(self._http.call("POST", "/auth/principals", json=body))

    def create_token(
        self, name: str, *, label: str | None = None, expires_in_s: float | None = None
    ) -> IssuedToken:
        body: dict[str, Any] = {"label": label, "expires_in_s": expires_in_s}
        found = self._http.call(
            "POST", f"/auth/principals/{quote(name, safe='')}/tokens", json=body
        )
        return IssuedToken(
            token=str(found["token"]),
            token_id=found.get("token_id"),
            principal=str(found["principal"]),
            role=str(found.get("role", "")),
            label=found.get("label"),
        )

    def revoke_token(self, token_id: str) -> None:
        self._http.call("DELETE", f"/auth/tokens/{quote(token_id, safe='')}")
