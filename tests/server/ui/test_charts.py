"""Chart data: metric histories as uPlot's aligned columns, and lines over windows."""

from __future__ import annotations

import math

import numpy as np

from loopml.server.ui.charts import Series, aligned, over
from loopml.tracking.series import MetricHistory


def history(steps: list[int], values: list[float]) -> MetricHistory:
    return MetricHistory(
        np.array(steps, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.zeros(len(steps)),
    )


def test_one_ordered_series_is_sent_as_it_is() -> None:
    chart = aligned("loss", [Series("a", history([0, 5, 9], [1.0, math.nan, 0.5]))])
    assert chart == {
        "key": "loss",
        "x": [0, 5, 9],
        "series": [{"label": "a", "y": [1.0, None, 0.5]}],
    }


def test_repeated_steps_keep_the_last_value_and_series_align_on_the_union() -> None:
    repeated = aligned("loss", [Series("a", history([0, 1, 1, 2], [3.0, 2.0, 1.5, 1.0]))])
    assert repeated["x"] == [0, 1, 2]
    assert repeated["series"][0]["y"] == [3.0, 1.5, 1.0]
    both = aligned(
        "acc",
        [Series("a", history([0, 2], [0.1, 0.2])), Series("b", history([1, 2], [0.3, math.inf]))],
    )
    assert both["x"] == [0, 1, 2]
    assert [s["y"] for s in both["series"]] == [[0.1, None, 0.2], [None, 0.3, None]]
    assert aligned("none", []) == {"key": "none", "x": [], "series": []}


def test_lines_over_windows_name_their_axis_and_leave_gaps() -> None:
    chart = over(
        "r2", [1.0, 2.0], {"realized": [0.9, None], "estimated": [math.nan, 0.8]}, "window"
    )
    assert chart["xlabel"] == "window"
    assert [s["y"] for s in chart["series"]] == [[0.9, None], [None, 0.8]]
