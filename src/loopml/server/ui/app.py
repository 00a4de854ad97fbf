"""`create_ui`: the web UI, a sub-application mounted under `/ui` of the control plane.

It shares the server's state (the same services, the same token sessions), serves its
templates and static assets from this package (nothing from a CDN), and answers every
page as the principal of the session cookie (context.py).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from loopml.server.state import ServerState
from loopml.server.ui import (
    audit,
    data,
    deployments,
    home,
    login,
    models,
    monitoring,
    pipelines,
    runs,
)
from loopml.server.ui.context import UiState
from loopml.server.ui.menus import ExperimentMenu
from loopml.server.ui.render import Renderer
from loopml.server.ui.session import SessionSigner, load_key

UI_PREFIX = "/ui"
STATIC = Path(__file__).parent / "static"
KEY_FILE = "ui-session.key"


def create_ui(server: ServerState) -> Starlette:
    """The UI app over `server`'s services; mount it at UI_PREFIX."""
    key = load_key(server.settings.local_path(server.settings.cache_dir) / KEY_FILE)
    app = Starlette(
        routes=[
            Route("/", home.home_page),
            Route("/login", login.login_form, methods=["GET"]),
            Route("/login", login.login, methods=["POST"]),
            Route("/logout", login.logout, methods=["POST"]),
            Route("/runs", runs.runs_page),
            Route("/runs/{run_id}", runs.run_page),
            Route("/runs/{run_id}/artifacts/{path:path}", runs.artifact),
            Route("/compare", runs.compare_page),
            Route("/models", models.models_page),
            Route("/models/{name}", models.model_page),
            Route("/approvals/{request_id}/approve", models.approve, methods=["POST"]),
            Route("/approvals/{request_id}/reject", models.reject, methods=["POST"]),
            Route("/deployments", deployments.deployments_page),
            Route("/deployments/{name}", deployments.deployment_page),
            Route("/data", data.datasets_page),
            Route("/data/{name}", data.dataset_page),
            Route("/data/{name}/diff", data.diff_page),
            Route("/data/{name}/{version:int}", data.version_page),
            Route("/monitors", monitoring.monitors_page),
            Route("/monitors/{name}", monitoring.monitor_page),
            Route("/alerts/{alert_id}/acknowledge", monitoring.acknowledge, methods=["POST"]),
            Route("/alerts/{alert_id}/resolve", monitoring.resolve, methods=["POST"]),
            Route("/pipelines", pipelines.pipelines_page),
            Route("/audit", audit.audit_page),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.ui = UiState(
        server, SessionSigner(key), Renderer(UI_PREFIX), UI_PREFIX, ExperimentMenu()
    )
    return app
