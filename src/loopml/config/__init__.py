"""Configuration: typed settings and the workspace that holds them."""

from loopml.config.settings import Settings, load_settings
from loopml.config.workspace import CONFIG_FILE, WORKSPACE_DIR, find_workspace, init_workspace

__all__ = [
    "CONFIG_FILE",
    "WORKSPACE_DIR",
    "Settings",
    "find_workspace",
    "init_workspace",
    "load_settings",
]
