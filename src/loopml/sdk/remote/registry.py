"""The `models` namespace over `loopml server`. A reference of any form (`bikes@champion`,
`model:bikes/3`, a version id) is resolved by the server, then its routes are called."""

from __future__ import annotations

import builtins
from typing import Any
from urllib.parse import quote

from loopml.registry import ModelVersion, Policy, RegisteredModel, parse_policy
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.models import model_version
from loopml.sdk.remote.records import page_of, registered_model
from loopml.store.paging import Page


def _name(name: str) -> str:
    return quote(name.strip().removeprefix("model:"), safe="")


class RemoteModels:
    """`Models` (loopml.sdk.api.models) in remote mode."""

    def __init__(self, http: RemoteHttp) -> None:
        self._http = http

    def _route(self, ref: str) -> str:
        """`/models/NAME/versions/N` of the version `ref` names."""
        version = self.get(ref)
        return f"/models/{quote(version.model, safe='')}/versions/{version.version}"

    def list(self) -> builtins.list[RegisteredModel]:
        return [registered_model(item) for item in self._http.call("GET", "/models")["models"]]

    def model(self, name: str) -> RegisteredModel:
        return registered_model(self._http.call("GET", f"/models/{_name(name)}"))

    def versions(
        self, name: str, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[ModelVersion]:
        params: dict[str, Any] = {"max_results": max_results}
        if page_token is not None:
            params["page_token"] = page_token
        found = self._http.call("GET", f"/models/{_name(name)}/versions", params=params)
        return page_of([model_version(item) for item in found["versions"]], found)

    def get(self, ref: str) -> ModelVersion:
        return model_version(self._http.call("GET", f"/model-versions/{quote(ref, safe='/')}"))

    def register(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str | None = None,
        card: dict[str, Any] | None = None,
    ) -> ModelVersion:
        body = {
            "run_id": run_id,
            "artifact_path": artifact_path,
            "description": description,
            "card": card,
        }
        found = self._http.call("POST", f"/models/{_name(name)}/versions", json=body)
        return model_version(found)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        found = self._http.call(
            "PUT",
            f"/models/{_name(name)}/aliases/{quote(alias, safe='')}",
            json={"version": version},
        )
        return model_version(found)

    def delete_alias(self, name: str, alias: str) -> None:
        self._http.call("DELETE", f"/models/{_name(name)}/aliases/{quote(alias, safe='')}")

    def set_state(self, ref: str, state: str) -> ModelVersion:
        found = self._http.call("PUT", f"{self._route(ref)}/state", json={"state": state})
        return model_version(found)

    def policy(self, name: str) -> Policy:
        return parse_policy(self._http.call("GET", f"/models/{_name(name)}/policy"))

    def set_policy(self, name: str, policy: dict[str, Any] | Policy) -> Policy:
        body = parse_policy(policy).model_dump(mode="json")
        return parse_policy(self._http.call("PUT", f"/models/{_name(name)}/policy", json=body))

    def lineage(self, ref: str) -> dict[str, Any]:
        return dict(self._http.call("GET", f"{self._route(ref)}/lineage"))

    def evaluate(
        self,
        ref: str,
        dataset: str,
        target: str,
        sensitive: builtins.list[str] | None = None,
    ) -> dict[str, Any]:
        body = {"dataset": dataset, "target": target, "sensitive": sensitive}
        return dict(
            self._http.call("POST", f"{self._route(ref)}/evaluations", json=body, idempotent=False)
        )

    def card(self, ref: str) -> dict[str, Any]:
        return dict(self._http.call("GET", f"{self._route(ref)}/card"))

    def card_markdown(self, ref: str) -> str:
        return self._card_text(ref, "markdown")

    def card_html(self, ref: str) -> str:
        return self._card_text(ref, "html")

    def _card_text(self, ref: str, format: str) -> str:
        answer = self._http.request("GET", f"{self._route(ref)}/card", params={"format": format})
        return answer.text
