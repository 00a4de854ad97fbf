"""Online stores: SQLite in process by default, Redis when shared by several replicas."""

from loopml.features.online.base import (
    OnlineCapabilities,
    OnlineStore,
    ViewLayout,
    ViewRead,
)
from loopml.features.online.factory import open_online_store

__all__ = ["OnlineCapabilities", "OnlineStore", "ViewLayout", "ViewRead", "open_online_store"]
