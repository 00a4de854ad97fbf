"""The SDK in remote mode: the client API over `loopml server` instead of the stores."""

from loopml.sdk.remote.client import RemoteClient, RemoteOptions
from loopml.sdk.remote.run import RemoteRun

__all__ = ["RemoteClient", "RemoteOptions", "RemoteRun"]
