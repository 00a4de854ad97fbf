"""The Python SDK: a client per workspace (local) or per server (remote), and module-level
shortcuts on a default one."""

from loopml.sdk.client import Client
from loopml.sdk.connection import AnyClient, connect
from loopml.sdk.remote import RemoteClient, RemoteOptions, RemoteRun

__all__ = ["AnyClient", "Client", "RemoteClient", "RemoteOptions", "RemoteRun", "connect"]
