"""The layer map as data: every package and root module of `loopml`, placed in a layer.

Imports flow downward only (a module may import its own layer or the ones below), no two
packages import each other, even through others, and nothing inside `loopml` imports the
`loopml` namespace itself (it re-exports the SDK, the top). `tests/test_package.py`
enforces all of it from this table, and `docs/architecture.md` shows the same table.
"""

from __future__ import annotations

LAYERS: tuple[str, ...] = ("foundation", "domain", "loop", "interfaces")  # bottom first

PLACEMENT: dict[str, str] = {
    # interfaces: how people and programs reach loopml
    "__init__": "interfaces",
    "cli": "interfaces",
    "ops": "interfaces",
    "sdk": "interfaces",
    "server": "interfaces",
    "serving": "interfaces",
    "sklearn": "interfaces",
    # loop: triggers, pipelines and rollouts that drive the world toward what is declared
    "controller": "loop",
    "imports": "loop",
    "pipelines": "loop",
    "rollouts": "loop",
    # domain: the concepts of the field
    "batch": "domain",
    "data": "domain",
    "deployments": "domain",
    "events": "domain",
    "features": "domain",
    "governance": "domain",
    "monitoring": "domain",
    "prediction_log": "domain",
    "registry": "domain",
    "tracking": "domain",
    # foundation: persistence, configuration and shared vocabulary
    "artifacts": "foundation",
    "config": "foundation",
    "errors": "foundation",
    "htmlkit": "foundation",
    "import_paths": "foundation",
    "layers": "foundation",
    "samples": "foundation",
    "store": "foundation",
    "uris": "foundation",
    "validation": "foundation",
    "version": "foundation",
}


def rank(unit: str) -> int:
    """The height of a package or root module's layer (foundation is 0)."""
    return LAYERS.index(PLACEMENT[unit])
