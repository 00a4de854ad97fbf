"""The control plane (`loopml server`): every domain operation as a REST API, shared by a
team; the SDK reaches it with `loopml.connect(URL, token=...)`."""

from loopml.server.app import create_app
from loopml.server.state import ServerOptions

__all__ = ["ServerOptions", "create_app"]
