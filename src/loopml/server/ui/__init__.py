"""The web UI served by `loopml server` under /ui: server-rendered pages over the same
services as the API, behind a signed session cookie."""

from loopml.server.ui.app import UI_PREFIX, create_ui

__all__ = ["UI_PREFIX", "create_ui"]
