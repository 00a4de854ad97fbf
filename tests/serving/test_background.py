"""serve_in_background: a real uvicorn server on loopback that stops with its block."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from loopml.serving.background import serve_in_background


def test_serves_on_loopback_and_stops() -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    with serve_in_background(app) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/ping", timeout=10).json() == {"pong": "yes"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/ping", timeout=2)
