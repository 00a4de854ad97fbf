"""Thresholds calibrated on the reference, and seasonal references, on real weather data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats  # type: ignore[import-untyped]
from vega_datasets import data as vega

from loopml.errors import ValidationError
from loopml.monitoring.drift.calibration import (
    _confident_rank,
    _quantile,
    calibrate,
    check_false_alarm_rate,
    check_season,
    reference_windows,
    season_of,
    seasonal_reference,
)
from loopml.monitoring.drift.check import DriftOptions, check_drift

COLUMNS = ("precipitation", "temp_max", "temp_min", "wind", "weather")


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    frame = vega.seattle_weather().sort_values("date").reset_index(drop=True)
    return frame[frame["date"].dt.year <= 2014].reset_index(drop=True)


def _flagged(reference: pd.DataFrame, window: pd.DataFrame, options: DriftOptions) -> int:
    return sum(bool(c.drift) for c in check_drift(reference, window, options=options).columns)


def test_calibrated_thresholds_keep_false_alarms_low_and_find_shifts(
    weather: pd.DataFrame,
) -> None:
    fixed = DriftOptions(columns=COLUMNS, histograms=False)
    cal = calibrate(weather[list(COLUMNS)], 30, options=fixed, limit=40)
    assert cal.method == "blocks" and cal.windows == 40 and cal.window_rows == 30
    assert set(cal.thresholds) == set(COLUMNS)
    assert cal.tests["temp_max"] == "wasserstein" and cal.tests["weather"] == "jensenshannon"
    calibrated = DriftOptions(
        columns=COLUMNS, histograms=False, tests=cal.tests, thresholds=cal.thresholds
    )
    months = [weather.iloc[s : s + 30] for s in range(15, len(weather) - 30, 30)]
    cells = len(months) * len(COLUMNS)
    fixed_alarms = sum(_flagged(weather, m, fixed) for m in months)
    calibrated_alarms = sum(_flagged(weather, m, calibrated) for m in months)
    assert fixed_alarms / cells > 0.5  # natural variation reads as drift with fixed levels
    assert calibrated_alarms / cells <= 0.08
    std = weather["temp_max"].std()
    moved = [m.assign(temp_max=m["temp_max"] + 2 * std) for m in months]
    found = [check_drift(weather, m, options=calibrated).column("temp_max").drift for m in moved]
    assert sum(found) / len(found) >= 0.6


def test_short_reference_falls_back_to_random_samples(weather: pd.DataFrame) -> None:
    assert reference_windows(100, 40)[0] == "samples"
    method, starts = reference_windows(120, 40)
    assert method == "blocks" and starts[0] == 0 and starts[-1] == 80 and len(starts) == 60
    cal = calibrate(
        weather[["wind"]].iloc[:60], 30, options=DriftOptions(columns=("wind",)), limit=10
    )
    assert cal.method == "samples" and cal.thresholds["wind"] > 0


def test_given_thresholds_are_kept(weather: pd.DataFrame) -> None:
    options = DriftOptions(columns=("wind", "temp_max"), thresholds={"wind": 0.3})
    cal = calibrate(weather[["wind", "temp_max"]], 30, options=options, limit=10)
    assert "wind" not in cal.thresholds and "temp_max" in cal.thresholds


def test_seasonal_reference_matches_the_windows_months(weather: pd.DataFrame) -> None:
    periods = season_of(weather["date"], "month")
    july = weather[weather["date"].dt.month == 7].iloc[:20]
    base = seasonal_reference(weather, periods, season_of(july["date"], "month"))
    assert set(base["date"].dt.month) == {7} and len(base) == 93  # July of 2012-2014
    mixed = weather[(weather["date"] >= "2013-06-21") & (weather["date"] < "2013-07-11")]
    base = seasonal_reference(weather, periods, season_of(mixed["date"], "month"))
    shares = base["date"].dt.month.value_counts(normalize=True)
    assert shares[6] == pytest.approx(0.5, abs=0.02) and shares[7] == pytest.approx(0.5, abs=0.02)
    # A July window is far from all-year data, and much closer to earlier Julys.
    options = DriftOptions(columns=("temp_max",), tests={"temp_max": "ks"})
    july_2014 = weather[(weather["date"].dt.month == 7) & (weather["date"].dt.year == 2014)]
    rest = weather[weather["date"].dt.year < 2014].reset_index(drop=True)
    rest_periods = season_of(rest["date"], "month")
    same_month = seasonal_reference(rest, rest_periods, season_of(july_2014["date"], "month"))
    all_year = check_drift(rest, july_2014, options=options).column("temp_max")
    july = check_drift(same_month, july_2014, options=options).column("temp_max")
    assert all_year.drift and all_year.statistic is not None and july.statistic is not None
    assert july.statistic > 1000 * all_year.statistic  # p-values: larger is closer


def test_seasonal_reference_without_that_period_is_empty(weather: pd.DataFrame) -> None:
    winter = weather[weather["date"].dt.month.isin([1, 2])]
    periods = season_of(winter["date"], "month")
    july = pd.Series(pd.to_datetime(["2015-07-01", "2015-07-02"]))
    assert seasonal_reference(winter, periods, season_of(july, "month")).empty


def test_seasons_and_validation() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-03-04 05:00", "2024-12-29 23:00"]))
    assert list(season_of(stamps, "month")) == [3, 12]
    assert list(season_of(stamps, "dayofweek")) == [0, 6]
    assert list(season_of(stamps, "hour")) == [5, 23]
    with pytest.raises(ValidationError, match="dayofweek"):
        check_season("week")
    with pytest.raises(ValidationError, match="false_alarm_rate"):
        check_false_alarm_rate(0.7)
    with pytest.raises(ValidationError, match="false_alarm_rate"):
        check_false_alarm_rate(True)
    with pytest.raises(ValidationError, match="window_rows"):
        calibrate(pd.DataFrame({"x": np.arange(10.0)}), 0, options=DriftOptions())


def test_the_threshold_is_a_confident_bound_not_the_plain_quantile() -> None:
    """From 60 windows the plain 95 % quantile is crossed by 3 of them; the threshold keeps
    the 5 % promise in ≥ 80 % of calibrations, so only the largest window crosses it."""
    assert _confident_rank(60, 0.05) == 2
    assert _confident_rank(20, 0.05) == 1  # too few windows for 80 %: the largest value
    assert _confident_rank(200, 0.05) > 2
    distances = [float(v) for v in range(1, 61)]
    assert _quantile(distances, 0.05, p_value=False) > 59.0  # only 60 crosses
    assert _quantile(distances, 0.05, p_value=False) < 60.0
    p_values = [v / 100 for v in range(1, 61)]
    level = _quantile(p_values, 0.05, p_value=True)
    assert 0.01 < level < 0.02  # only the smallest p-value (0.01) is at or below it


def test_the_promise_holds_on_fresh_windows_of_the_same_distribution() -> None:
    """Windows of one distribution (a standard normal statistic): the exact share of new
    windows crossing the threshold stays under the stated rate in at least 80 % of
    calibrations, where the plain quantile keeps it in about half (1,000 seeds)."""
    rng = np.random.default_rng(7)
    rate, seeds = 0.05, 1000
    confident = plain = 0
    for _ in range(seeds):
        calibration = rng.standard_normal(60)
        threshold = _quantile(list(calibration), rate, p_value=False)
        confident += float(stats.norm.sf(threshold)) <= rate
        plain += float(stats.norm.sf(np.quantile(calibration, 1 - rate))) <= rate
    assert confident / seeds >= 0.78  # 0.81 in theory (binomial), ±0.012 over 1,000 seeds
    assert plain / seeds < 0.65
