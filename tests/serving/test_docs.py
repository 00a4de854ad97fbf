"""docs/serving.md documents every route of the app, and every metric it exports."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute

from loopml.sdk import Client
from loopml.serving import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def test_every_route_and_metric_is_documented(client: Client) -> None:
    text = DOC.read_text()
    app = create_app(client, auth="open")
    for api_route in app.routes:
        if isinstance(api_route, APIRoute):
            for method in api_route.methods:
                assert f"`{method} {api_route.path}`" in text, f"{method} {api_route.path}"
    for family in app.state.serving.metrics.registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in text or f"`{family.name}` (" in text, name
