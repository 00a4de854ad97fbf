"""Templates: one Jinja2 environment over the package's templates (autoescaped), the
values every page gets, and the security headers every page is sent with."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from loopml.monitoring.definition import format_duration, human_duration

if TYPE_CHECKING:
    from loopml.server.ui.context import PageContext

TEMPLATES = Path(__file__).parent / "templates"

#: Scripts and styles only from the package; no inline script; no framing.
HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def when(stamp: float | None) -> str:
    """A UTC timestamp for tables ('' for none)."""
    if stamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


def number(value: Any) -> str:
    """A metric value, short: 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def seconds(value: float | None) -> str:
    """A measured duration ('' for none): `0.42 s`, `12.5 min`."""
    if value is None:
        return ""
    return f"{value:.2g} s" if value < 1 else human_duration(value)


def json_data(value: Any) -> Markup:
    """Data for a `<script type="application/json">` block; `<` is escaped so a value can
    never close the block."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


class Renderer:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            when=when,
            number=number,
            json_data=json_data,
            duration=format_duration,
            seconds=seconds,
        )

    def html(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        body = self.env.get_template(template).render(prefix=self.prefix, **values)
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def page(
        self, template: str, ctx: PageContext | None, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A page of the signed-in UI: the viewer and the CSRF token are in every one."""
        if ctx is not None:
            values.setdefault("me", ctx.principal)
            values.setdefault("csrf", ctx.csrf)
            values.setdefault("path", ctx.request.url.path)
        return self.html(template, status, **values)
