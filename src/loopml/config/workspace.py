"""The workspace: a folder with `loopml.toml` and the embedded stores under `.loopml/`."""

from __future__ import annotations

from pathlib import Path

WORKSPACE_DIR = ".loopml"
CONFIG_FILE = "loopml.toml"

_DEFAULT_CONFIG = """\
# loopml workspace settings; LOOPML_<NAME> environment variables override each of them.
store_url = "sqlite:///.loopml/loopml.db"
artifacts_url = ".loopml/artifacts"
"""


def find_workspace(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` holding `loopml.toml` or `.loopml/`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() or (folder / WORKSPACE_DIR).is_dir():
            return folder
    return None


def init_workspace(root: Path) -> Path:
    """Create `loopml.toml` and `.loopml/` in `root` (idempotent) and return the root."""
    root = root.resolve()
    (root / WORKSPACE_DIR).mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_FILE
    if not config.exists():
        config.write_text(_DEFAULT_CONFIG)
    gitignore = root / WORKSPACE_DIR / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n")
    return root
