"""`RemoteClient.triggers`: triggers and their events over `loopml server`."""

from __future__ import annotations

import builtins
from typing import Any
from urllib.parse import quote

from loopml.controller import RolloutSpec, Trigger, TriggerEvent
from loopml.sdk.remote import ops_records as records
from loopml.sdk.remote.http import RemoteHttp


def _name(name: str) -> str:
    return quote(str(name), safe="")


class RemoteTriggers:
    """`client.triggers` over HTTP: the same calls and records as `TriggerService`."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http

    def create(
        self,
        name: str,
        on: str,
        pipeline: str,
        *,
        params: dict[str, Any] | None = None,
        cooldown: str | float | None = None,
        rollout: RolloutSpec | dict[str, Any] | None = None,
        enabled: bool = True,
        requires_new_data: str | None = None,
    ) -> Trigger:
        body: dict[str, Any] = {"name": name, "on": on, "pipeline": pipeline, "enabled": enabled}
        optional = {
            "params": params,
            "cooldown": cooldown,
            "rollout": rollout.to_dict() if isinstance(rollout, RolloutSpec) else rollout,
            "requires_new_data": requires_new_data,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return records.trigger(self.http.call("POST", "/triggers", json=body))

    def enable(self, name: str) -> Trigger:
        return records.trigger(self.http.call("POST", f"/triggers/{_name(name)}/enable"))

    def disable(self, name: str) -> Trigger:
        return records.trigger(self.http.call("POST", f"/triggers/{_name(name)}/disable"))

    def delete(self, name: str) -> None:
        self.http.call("DELETE", f"/triggers/{_name(name)}")

    def get(self, name: str) -> Trigger:
        return records.trigger(self.http.call("GET", f"/triggers/{_name(name)}"))

    def list(self) -> builtins.list[Trigger]:
        found = self.http.call("GET", "/triggers")
        return [records.trigger(item) for item in found["triggers"]]

    def events(
        self, name: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> builtins.list[TriggerEvent]:
        params: dict[str, Any] = {"limit": limit}
        params.update({k: v for k, v in (("trigger", name), ("state", state)) if v is not None})
        found = self.http.call("GET", "/trigger-events", params=params)
        return [records.trigger_event(item) for item in found["events"]]

    def event(self, event_id: str) -> TriggerEvent:
        return records.trigger_event(self.http.call("GET", f"/trigger-events/{_name(event_id)}"))

    def retry(self, event_id: str) -> TriggerEvent:
        found = self.http.call("POST", f"/trigger-events/{_name(event_id)}/retry")
        return records.trigger_event(found)
