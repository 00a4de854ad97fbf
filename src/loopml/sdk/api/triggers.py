"""`client.triggers`: what launches registered pipelines (new data, alerts, schedules).

Local: `loopml.controller.TriggerService`; remote: `loopml.sdk.remote.triggers`.
"""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from loopml.controller import RolloutSpec, Trigger, TriggerEvent


class TriggersAPI(Protocol):
    """Declare, enable, disable and delete triggers; read and retry their events."""

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
    ) -> Trigger: ...

    def enable(self, name: str) -> Trigger: ...

    def disable(self, name: str) -> Trigger: ...

    def delete(self, name: str) -> None: ...

    def get(self, name: str) -> Trigger: ...

    def list(self) -> builtins.list[Trigger]: ...

    def events(
        self, name: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> builtins.list[TriggerEvent]: ...

    def event(self, event_id: str) -> TriggerEvent: ...

    def retry(self, event_id: str) -> TriggerEvent: ...
