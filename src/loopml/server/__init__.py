"""The control plane (`loopml server`): every domain operation as a REST API, shared by a
team; the SDK reaches it with `loopml.connect(URL, token=...)`."""

import importlib as _importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:
    from loopml.server.app import create_app
    from loopml.server.state import ServerOptions

# Worker processes import `loopml.server.logs` (their logging filter) before they answer
# the supervisor's health checks: the app and its dependencies load only when used.
_LAZY = {"create_app": "loopml.server.app", "ServerOptions": "loopml.server.state"}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.server' has no attribute {name!r}")
    return getattr(_importlib.import_module(module), name)


__all__ = ["ServerOptions", "create_app"]
