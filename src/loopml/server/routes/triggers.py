"""Triggers and their events: declare, enable, disable, delete; list events and queue a
failed one again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from starlette.responses import Response

from loopml.controller import Trigger
from loopml.server.ops_bodies import CreateTrigger
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state

State = Annotated[ServerState, Depends(server_state)]
api = Api("triggers")


def trigger_document(trigger: Trigger) -> dict[str, Any]:
    """The trigger's record plus its parsed source, so a remote client rebuilds it."""
    return {**trigger.to_dict(), "source": trigger.source.to_dict(), "cursor": trigger.cursor}


def list_triggers(state: State) -> Response:
    found = state.client.triggers.list()
    return json_response({"triggers": [trigger_document(t) for t in found]})


def get_trigger(name: str, state: State) -> Response:
    return json_response(trigger_document(state.client.triggers.get(name)))


def create_trigger(body: CreateTrigger, state: State) -> Response:
    """Declare a trigger on a registered pipeline (an admin's import path registers it)."""
    created = state.client.triggers.create(
        body.name,
        body.on,
        body.pipeline,
        params=body.params,
        cooldown=body.cooldown,
        rollout=body.rollout,
        enabled=body.enabled,
        requires_new_data=body.requires_new_data,
    )
    return json_response(trigger_document(created), 201)


def enable_trigger(name: str, state: State) -> Response:
    return json_response(trigger_document(state.client.triggers.enable(name)))


def disable_trigger(name: str, state: State) -> Response:
    return json_response(trigger_document(state.client.triggers.disable(name)))


def delete_trigger(name: str, state: State) -> Response:
    state.client.triggers.delete(name)
    return json_response({"name": name, "deleted": True})


def list_events(
    state: State,
    trigger: str | None = None,
    state_: Annotated[str | None, Query(alias="state", description="e.g. failed")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Events newest first, optionally of one trigger and/or in one state."""
    found = state.client.triggers.events(trigger, state=state_, limit=limit)
    return json_response({"events": found})


def get_event(event_id: str, state: State) -> Response:
    return json_response(state.client.triggers.event(event_id))


def retry_event(event_id: str, state: State) -> Response:
    """Queue a failed or cooldown-skipped event again, now."""
    return json_response(state.client.triggers.retry(event_id))


api.route("GET", "/triggers", list_triggers, role="viewer", summary="List triggers")
api.route("POST", "/triggers", create_trigger, role="editor", status_code=201, summary="Create")
api.route("GET", "/triggers/{name}", get_trigger, role="viewer", summary="One trigger")
api.route("POST", "/triggers/{name}/enable", enable_trigger, role="editor", summary="Enable")
api.route("POST", "/triggers/{name}/disable", disable_trigger, role="editor", summary="Disable")
api.route("DELETE", "/triggers/{name}", delete_trigger, role="editor", summary="Delete")
api.route("GET", "/trigger-events", list_events, role="viewer", summary="Trigger events")
api.route("GET", "/trigger-events/{event_id}", get_event, role="viewer", summary="One event")
api.route("POST", "/trigger-events/{event_id}/retry", retry_event, role="editor")
