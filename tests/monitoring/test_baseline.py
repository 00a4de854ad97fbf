"""A monitor's baseline: calibrated thresholds by default, seasonal references on request."""

from __future__ import annotations

import pandas as pd
import pytest
from vega_datasets import data as vega

from loopml.errors import ValidationError
from loopml.sdk import Client


@pytest.fixture
def weather(client: Client) -> pd.DataFrame:
    frame = vega.seattle_weather().sort_values("date").reset_index(drop=True)
    client.log_dataset("weather", frame[frame["date"].dt.year <= 2014], time_column="date")
    return frame


def test_monitor_calibrates_by_default_and_compares_same_months(
    client: Client, weather: pd.DataFrame
) -> None:
    monitors = client.monitors
    plain = monitors.create("weather-fixed", "dataset:weather", calibrate="fixed")
    default = monitors.create("weather-cal", "dataset:weather")
    seasonal = monitors.create("weather-season", "dataset:weather", seasonal="month")
    assert default.config.calibrate == "reference" and default.config.false_alarm_rate == 0.05
    july = weather[(weather["date"].dt.year == 2015) & (weather["date"].dt.month == 7)]
    client.log_dataset("weather", july, time_column="date")
    fixed = monitors.run(plain.name)[0].result.window.drift
    calibrated = monitors.run(default.name)[0].result.window.drift
    same_month = monitors.run(seasonal.name)[0].result.window.drift
    assert fixed is not None and calibrated is not None and same_month is not None
    assert "calibrated" not in (fixed.message or "")
    assert "thresholds calibrated on 60 reference windows of 31 rows" in (calibrated.message or "")
    assert "same month (7; " in (same_month.message or "")
    # The summer month against all-year data: fixed levels flag every column, the calibrated
    # ones only what is outside the year's own variation.
    assert len(fixed.drifted) == len(fixed.tested) == 5
    assert len(calibrated.drifted) < len(fixed.drifted)
    temp = calibrated.column("temp_max")
    assert temp.threshold is not None and temp.threshold > 0.1 and temp.test == "wasserstein"


def test_seasonal_monitor_needs_a_time_column(client: Client) -> None:
    frame = vega.seattle_weather().drop(columns=["date"])
    client.log_dataset("untimed", frame)
    with pytest.raises(ValidationError, match="no time column"):
        client.monitors.create("m", "dataset:untimed", seasonal="month")
    with pytest.raises(ValidationError, match="seasonal"):
        client.monitors.create("m", "dataset:untimed", seasonal="week")
    with pytest.raises(ValidationError, match="calibrate"):
        client.monitors.create("m", "dataset:untimed", calibrate="auto")
    with pytest.raises(ValidationError, match="resolve_after"):
        client.monitors.create("m", "dataset:untimed", resolve_after=0)
    assert client.monitors.list() == []
