"""docs/server.md lists every route of the API with the least role it declares."""

from __future__ import annotations

import re
from pathlib import Path

from loopml.config import init_workspace, load_settings
from loopml.server import create_app
from loopml.server.routing import guarded_routes

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def test_every_route_is_documented_with_its_role(tmp_path: Path) -> None:
    app = create_app(load_settings(init_workspace(tmp_path)))
    try:
        text = DOC.read_text()
        documented = {
            (method, path): role
            for method, path, role in re.findall(r"\| `([A-Z]+) (/api/v1/\S*)` \| (\w+) \|", text)
        }
        for route in guarded_routes(app.routes):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            for method in route.methods:
                assert documented.get((method, path)) == route.min_role, f"{method} {path}"
        assert len(documented) == sum(len(r.methods) for r in guarded_routes(app.routes))
    finally:
        app.state.server.client.close()
