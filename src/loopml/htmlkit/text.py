"""How values are written on a page; `esc` makes any of them safe in text and attributes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

MISSING = "—"


def esc(value: object) -> str:
    """Any value as HTML-safe text (quotes too, so it is safe inside attributes)."""
    return escape(str(value), quote=True)


def number(value: float | int | None, missing: str = MISSING) -> str:
    """An int with thousands separators; a float to four significant digits; None as a dash."""
    if value is None or isinstance(value, bool):
        return missing if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return missing
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def value_text(value: Any, missing: str = MISSING) -> str:
    """A number, flag, list or string as short text; None as `missing`."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number(value, missing)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(value_text(v) for v in value) or missing
    return str(value)


def compact(value: float) -> str:
    """A number short enough for an axis label: 1.2M, 35k, 0.8123."""
    # Thousands get a suffix from 10,000 on: 1234 is short enough as it is.
    for start, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= start:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.4g}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share in 0..1 as a percentage."""
    if value is None or not math.isfinite(value):
        return MISSING
    if value and abs(value * 100) < 10**-digits:  # a rare error must not read as 0%
        return f"{value * 100:.2g}%"
    return f"{value * 100:.{digits}f}%"


def utc_time(epoch: float | None, *, seconds: bool = True) -> str:
    """Epoch seconds as a UTC timestamp (to the minute when `seconds` is False)."""
    if epoch is None:
        return MISSING
    shape = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return datetime.fromtimestamp(epoch, UTC).strftime(shape)


def shares(counts: Sequence[int]) -> list[float]:
    """Counts as shares of their total, so samples of different sizes compare."""
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
