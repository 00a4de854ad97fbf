"""Chart data for the browser: metric histories, downsampled on the server, as the
aligned columns uPlot draws (one x column of steps, one y column per series)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.tracking.series import MetricHistory

MAX_POINTS = 200  # per series: about one per pixel column of a chart; each is an index seek


@dataclass(frozen=True)
class Series:
    label: str
    history: MetricHistory


def _clean(values: list[float]) -> list[float | None]:
    """JSON has no NaN or infinity: those points become gaps."""
    return [v if math.isfinite(v) else None for v in values]


def aligned(key: str, series: list[Series]) -> dict[str, Any]:
    """One chart: the union of the series' steps, each series' value at each step (None
    where it has none; with several points at one step, the last)."""
    if not series:
        return {"key": key, "x": [], "series": []}
    if len(series) == 1 and bool(np.all(np.diff(series[0].history.steps) > 0)):
        # one series whose steps are already distinct and in order (every sample is)
        only = series[0]
        line = {"label": only.label, "y": _clean(only.history.values.tolist())}
        return {"key": key, "x": only.history.steps.tolist(), "series": [line]}
    steps = np.unique(np.concatenate([s.history.steps for s in series]))
    columns = []
    for item in series:
        column = np.full(len(steps), np.nan)
        positions = np.searchsorted(steps, item.history.steps)
        column[positions] = item.history.values
        columns.append({"label": item.label, "y": _clean(column.tolist())})
    return {"key": key, "x": steps.tolist(), "series": columns}


def over(
    key: str, x: list[float], lines: dict[str, list[float | None]], xlabel: str
) -> dict[str, Any]:
    """One chart of named lines over shared x values (windows, quantile levels): the
    same aligned columns, with the x axis named; non-finite points become gaps."""
    series = [
        {"label": label, "y": [None if v is None or not math.isfinite(v) else v for v in ys]}
        for label, ys in lines.items()
    ]
    return {"key": key, "x": x, "xlabel": xlabel, "series": series}
