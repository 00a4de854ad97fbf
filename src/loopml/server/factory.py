"""The app of each worker process when `loopml server --workers N` forks several: uvicorn
imports this factory in each worker, which reads its settings from the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI

from loopml.config import load_settings
from loopml.errors import ConfigError
from loopml.server.app import create_app
from loopml.server.state import ServerOptions

WORKSPACE_ENV = "LOOPML_SERVER_WORKSPACE"
OPTIONS_ENV = "LOOPML_SERVER_OPTIONS"


def app_from_environment() -> FastAPI:
    root = os.environ.get(WORKSPACE_ENV)
    if not root:
        raise ConfigError(f"{WORKSPACE_ENV} names no workspace; start workers with `loopml server`")
    options = ServerOptions(**json.loads(os.environ.get(OPTIONS_ENV, "{}")))
    return create_app(load_settings(Path(root)), options)
