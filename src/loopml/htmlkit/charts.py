"""Small inline SVG charts drawn from aggregates: no script, no external file, a few KB each.

Distributions are drawn as shares of each sample, because the samples compared rarely have
the same number of rows. Colours come from the CSS classes in `CSS` (`ref`, `cur`, `line`,
`limit`, `bar`), which every page carries, so each chart stays short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from loopml.htmlkit.text import compact, esc, number, percent, shares, shorten, value_text

CSS = """
svg { font: 11px system-ui, sans-serif; fill: var(--ink); display: block; }
svg.bars { font-size: 12px; display: inline; }
svg .chart-title { font-weight: 600; font-size: 12px; }
svg .tick { fill: var(--muted); }
svg .ref { fill: var(--ref); fill-opacity: .75; }
svg path.cur { fill: none; stroke: var(--cur); stroke-width: 2; }
svg rect.cur { fill: var(--cur); }
svg .axis { stroke: var(--line); }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .dot { fill: var(--accent); }
svg .limit { stroke: var(--bad); stroke-dasharray: 4 3; }
svg .bar { fill: var(--accent); }
svg .undefined { fill: var(--muted); font-style: italic; }
"""

WIDTH = 320
PLOT_LEFT = 44
PLOT_RIGHT = 312
PLOT_TOP = 22
PLOT_BOTTOM = 128
HEIGHT = 170
MAX_TICK = 12


def step_overlay(
    reference: Sequence[int], current: Sequence[int], edges: Sequence[float] | None, title: str
) -> str:
    """Reference as a filled step area, current as a step outline over it.

    Bins are drawn at equal widths and labelled with their edges, so quantile bins and
    open-ended outer bins stay readable.
    """
    ref, cur = shares(reference), shares(current)
    bins = max(len(ref), len(cur))
    if bins == 0:
        return _empty_svg(title)
    top = max([*ref, *cur, 0.0]) or 1.0
    width = (PLOT_RIGHT - PLOT_LEFT) / bins
    parts = [_open(WIDTH, HEIGHT, title), _legend(), _y_axis(top)]
    parts.append(f'<path class="ref" d="{_step_path(ref, top, width, closed=True)}"/>')
    parts.append(f'<path class="cur" d="{_step_path(cur, top, width, closed=False)}"/>')
    parts.append(_baseline())
    if edges and len(edges) == bins + 1:
        for index in sorted({0, bins // 2, bins}):
            x = PLOT_LEFT + index * width
            anchor = "start" if index == 0 else "end" if index == bins else "middle"
            label = esc(shorten(number(edges[index]), MAX_TICK))
            parts.append(
                f'<text x="{x:.1f}" y="{PLOT_BOTTOM + 14}" text-anchor="{anchor}" '
                f'class="tick">{label}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _step_path(values: Sequence[float], top: float, width: float, *, closed: bool) -> str:
    """M to the baseline, then one V (bar top) and one H (bar end) per bin."""
    steps = [f"M{PLOT_LEFT},{PLOT_BOTTOM}"]
    for index, value in enumerate(values):
        y = PLOT_BOTTOM - value / top * (PLOT_BOTTOM - PLOT_TOP)
        steps.append(f"V{y:.2f}H{PLOT_LEFT + (index + 1) * width:.2f}")
    steps.append(f"V{PLOT_BOTTOM}")
    if closed:
        steps.append("Z")
    return "".join(steps)


CAT_LABEL = 110
CAT_BAR = 140
CAT_ROW = 22


def paired_bars(
    reference: Sequence[int], current: Sequence[int], categories: Sequence[str], title: str
) -> str:
    """Two thin horizontal bars per category (reference above current), scaled to shares."""
    ref, cur = shares(reference), shares(current)
    rows = min(len(categories), len(ref), len(cur))
    if rows == 0:
        return _empty_svg(title)
    top = max([*ref[:rows], *cur[:rows], 0.0]) or 1.0
    height = PLOT_TOP + 14 + rows * CAT_ROW + 4
    parts = [_open(WIDTH, height, title), _legend()]
    for index in range(rows):
        y = PLOT_TOP + 14 + index * CAT_ROW
        name = categories[index]
        ref_len = ref[index] / top * CAT_BAR
        cur_len = cur[index] / top * CAT_BAR
        parts.append(
            f"<g><title>{esc(name)}: reference {percent(ref[index])}, "
            f"current {percent(cur[index])}</title>"
            f'<text x="{CAT_LABEL - 6}" y="{y + 13}" text-anchor="end">'
            f"{esc(shorten(name, 16))}</text>"
            f'<rect class="ref" x="{CAT_LABEL}" y="{y + 2}" width="{ref_len:.2f}" height="8"/>'
            f'<rect class="cur" x="{CAT_LABEL}" y="{y + 10}" width="{cur_len:.2f}" height="8"/>'
            f'<text x="{CAT_LABEL + CAT_BAR + 6}" y="{y + 13}" class="tick">'
            f"{percent(ref[index], 0)} → {percent(cur[index], 0)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


TREND_WIDTH = 320
TREND_HEIGHT = 150
DOTS_UP_TO = 40


def trend_line(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    limit: float | None = None,
    as_percent: bool = False,
) -> str:
    """A line across windows; a gap where a window has no value; `limit` as a dashed line."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return _empty_svg(title, TREND_WIDTH, TREND_HEIGHT)
    bounds = [*known, *([limit] if limit is not None else [])]
    if as_percent:  # shares start at zero, so a small error rate does not look like a spike
        low, high = 0.0, max(*bounds, 0.01)
    else:
        low, high = min(bounds), max(bounds)
    if high == low:
        low, high = low - (abs(low) or 1.0) * 0.1, high + (abs(high) or 1.0) * 0.1
    right = TREND_WIDTH - 12
    step = (right - PLOT_LEFT) / max(len(values) - 1, 1)

    def y_of(value: float) -> float:
        return PLOT_BOTTOM - (value - low) / (high - low) * (PLOT_BOTTOM - PLOT_TOP)

    show = percent if as_percent else number
    axis = percent if as_percent else compact
    parts = [_open(TREND_WIDTH, TREND_HEIGHT, title, heading=True)]
    parts.append(_tick_text(PLOT_LEFT - 4, PLOT_TOP + 4, axis(high), "end"))
    parts.append(_tick_text(PLOT_LEFT - 4, PLOT_BOTTOM, axis(low), "end"))
    if limit is not None:
        y = y_of(limit)
        parts.append(f'<path class="limit" d="M{PLOT_LEFT},{y:.2f}H{right}"/>')
    path: list[str] = []
    dots: list[str] = []
    previous = False
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            previous = False
            continue
        x, y = PLOT_LEFT + index * step, y_of(value)
        path.append(f"{'L' if previous else 'M'}{x:.1f},{y:.1f}")
        previous = True
        if len(values) <= DOTS_UP_TO or index == len(values) - 1:
            dots.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{esc(labels[index])}: {show(value)}</title></circle>"
            )
    parts.append(f'<path class="line" d="{"".join(path)}"/>')
    parts.extend(dots)
    parts.append(
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{right}" y2="{PLOT_BOTTOM}" class="axis"/>'
    )
    parts.append(_tick_text(PLOT_LEFT, PLOT_BOTTOM + 14, shorten(labels[0], 22), "start"))
    if len(labels) > 1:
        parts.append(_tick_text(right, PLOT_BOTTOM + 14, shorten(labels[-1], 22), "end"))
    last = known[-1]
    parts.append(_tick_text(right, PLOT_TOP - 8, f"latest {show(last)}", "end"))
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str, *, heading: bool = False) -> str:
    """The SVG element, titled for screen readers; `heading` also draws the title."""
    shown = f'<text x="0" y="12" class="chart-title">{esc(shorten(title, 30))}</text>'
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>'
        f"{shown if heading else ''}"
    )


def _legend() -> str:
    x = PLOT_LEFT
    return (
        f'<rect class="ref" x="{x}" y="4" width="10" height="10"/>'
        f'<text x="{x + 14}" y="13" class="tick">reference</text>'
        f'<rect class="cur" x="{x + 72}" y="4" width="10" height="10"/>'
        f'<text x="{x + 86}" y="13" class="tick">current</text>'
    )


def _y_axis(top: float) -> str:
    return _tick_text(PLOT_LEFT - 4, PLOT_TOP + 4, percent(top, 0), "end") + _tick_text(
        PLOT_LEFT - 4, PLOT_BOTTOM, "0%", "end"
    )


def _baseline() -> str:
    return (
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}" '
        'class="axis"/>'
    )


def _tick_text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" class="tick">{esc(text)}</text>'


def _empty_svg(title: str, width: int = WIDTH, height: int = 60) -> str:
    return (
        f"{_open(width, height, title, heading=True)}"
        f'<text x="0" y="38" class="tick">no values to plot</text></svg>'
    )


BAR_LABEL = 190
BAR_LENGTH = 220
BAR_VALUE = 70
BAR_ROW = 22
BAR_MAX_LABEL = 24


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float | None]],
    scale: float | None = None,
    *,
    missing: str = "undefined",
) -> str:
    """One horizontal bar per label, scaled to `scale` or the largest value; None as `missing`."""
    values = [v for _, v in bars if v is not None and math.isfinite(v)]
    top = scale or max((abs(v) for v in values), default=0.0) or 1.0
    width = BAR_LABEL + BAR_LENGTH + BAR_VALUE
    height = BAR_ROW * len(bars) + 28
    parts = [
        f'<svg class="bars" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f'<text x="0" y="14" class="chart-title">{esc(title)}</text>',
    ]
    for row, (label, value) in enumerate(bars):
        y = 24 + row * BAR_ROW
        parts.append(
            f"<g><title>{esc(label)}: {esc(value_text(value, missing))}</title>"
            f'<text x="{BAR_LABEL - 6}" y="{y + 14}" text-anchor="end">'
            f"{esc(shorten(label, BAR_MAX_LABEL))}</text>"
        )
        if value is None or not math.isfinite(value):
            parts.append(
                f'<text x="{BAR_LABEL}" y="{y + 14}" class="undefined">{esc(missing)}</text>'
            )
        else:
            length = max(1.0, min(1.0, abs(value) / top) * BAR_LENGTH)
            parts.append(
                f'<rect x="{BAR_LABEL}" y="{y + 3}" width="{length:.1f}" '
                f'height="{BAR_ROW - 6}" rx="2" class="bar"/>'
                f'<text x="{BAR_LABEL + BAR_LENGTH + 6}" y="{y + 14}">'
                f"{esc(value_text(value))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
