"""The Python SDK: a `Client` per workspace and module-level shortcuts on a default one."""

from loopml.sdk.client import Client, connect

__all__ = ["Client", "connect"]
