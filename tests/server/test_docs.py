"""docs/server.md lists every route of the API with the least role it declares, and
docs/mlflow.md every route of the MLflow API (served under /api/2.0 and /ajax-api/2.0)."""

from __future__ import annotations

import re
from pathlib import Path

from loopml.config import init_workspace, load_settings
from loopml.server import create_app
from loopml.server.routing import guarded_routes

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = DOCS / "server.md"
MLFLOW_DOC = DOCS / "mlflow.md"


def test_every_route_is_documented_with_its_role(tmp_path: Path) -> None:
    app = create_app(load_settings(init_workspace(tmp_path)))
    try:
        text = DOC.read_text() + MLFLOW_DOC.read_text()
        documented = {
            (method, path): role
            for method, path, role in re.findall(r"\| `([A-Z]+) (/api/\S*)` \| (\w+) \|", text)
        }
        served = set()
        for route in guarded_routes(app.routes):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            path = path.replace("/ajax-api/2.0/", "/api/2.0/", 1)  # the same routes again
            for method in route.methods:
                assert documented.get((method, path)) == route.min_role, f"{method} {path}"
                served.add((method, path))
        assert set(documented) == served
    finally:
        app.state.server.client.close()
