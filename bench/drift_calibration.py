"""False alarms and found shifts of drift tests: fixed thresholds against calibrated ones.

Two real data sets with natural variation, read offline: the bundled bike-share data (2011,
hourly, loopml.samples) and Seattle's daily weather 2012-2015 (vega_datasets).

- Control windows: consecutive windows of the monitor's size inside the reference period,
  compared with that reference. Nothing changed, so every flagged column is a false alarm.
- Planted shifts: the same windows with one numerical column moved by k reference
  standard deviations (k = 0.5, 1, 2); a found shift is that column flagged.
- Natural shifts: summer windows against a winter reference; found when the temperature
  columns are flagged.

Settings: `fixed` (each test's own threshold), `calibrated` (thresholds from the reference's
own windows for a 5 % false-alarm rate, the monitors' default) and, for the weather data,
`seasonal` (calibrated, against the same months of the other reference years).

    PYTHONPATH=src python bench/drift_calibration.py            # prints JSON
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from vega_datasets import data as vega

from loopml.monitoring.drift.calibration import calibrate, season_of, seasonal_reference
from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.samples import load_bikeshare

RATE = 0.05
SHIFTS = (0.5, 1.0, 2.0)


def windows(frame: pd.DataFrame, size: int) -> list[np.ndarray]:
    """Consecutive windows, starting half a window in (not aligned with anything)."""
    return [np.arange(s, s + size) for s in range(size // 2, len(frame) - size + 1, size)]


def flagged(reference: pd.DataFrame, window: pd.DataFrame, options: DriftOptions) -> set[str]:
    result = check_drift(reference, window, options=options)
    return {c.column for c in result.columns if c.drift}


def settings(
    reference: pd.DataFrame, size: int, columns: list[str], periods: pd.Series | None
) -> dict[str, DriftOptions]:
    fixed = DriftOptions(columns=tuple(columns), histograms=False)
    cal = calibrate(reference[columns], size, options=fixed, false_alarm_rate=RATE)
    found = {
        "fixed": fixed,
        "calibrated": replace(fixed, tests=cal.tests, thresholds=cal.thresholds),
    }
    if periods is not None:
        seasonal = calibrate(
            reference[columns], size, options=fixed, false_alarm_rate=RATE, periods=periods
        )
        found["seasonal"] = replace(fixed, tests=seasonal.tests, thresholds=seasonal.thresholds)
    return found


def measure(
    name: str,
    frame: pd.DataFrame,
    *,
    time_column: str,
    columns: list[str],
    numerical: list[str],
    size: int,
    reference_rows: pd.Series,
    winter: pd.Series,
    summer: pd.Series,
    temperature: list[str],
    seasonal: str | None,
) -> dict[str, Any]:
    frame = frame.sort_values(time_column).reset_index(drop=True)
    reference = frame[reference_rows.to_numpy()].reset_index(drop=True)
    periods = season_of(reference[time_column], seasonal) if seasonal else None
    started = time.perf_counter()
    options = settings(reference, size, columns, periods)
    calibration_s = time.perf_counter() - started
    control = windows(reference, size)
    std = reference[numerical].std()
    out: dict[str, Any] = {
        "rows": len(frame),
        "reference_rows": len(reference),
        "window_rows": size,
        "control_windows": len(control),
        "columns": columns,
        "calibration_seconds": round(calibration_s, 2),
    }
    for setting, opts in options.items():
        false_alarms = 0
        found = dict.fromkeys(SHIFTS, 0)
        for index in control:
            base = reference
            if setting == "seasonal" and periods is not None:
                rest = np.ones(len(reference), bool)
                rest[index] = False
                base = seasonal_reference(
                    reference[rest], periods[rest], periods.iloc[index], seed=int(index[0])
                )
            window = reference.iloc[index]
            false_alarms += len(flagged(base, window, opts))
            for k in SHIFTS:
                for column in numerical:
                    moved = window.assign(**{column: window[column] + k * std[column]})
                    found[k] += column in flagged(base, moved, opts)
        cells = len(control) * len(columns)
        planted = len(control) * len(numerical)
        out[setting] = {
            "false_alarm_rate": round(false_alarms / cells, 4),
            "false_alarms": f"{false_alarms} of {cells} column-windows",
            **{f"planted_shift_{k:g}sd_found": round(found[k] / planted, 4) for k in SHIFTS},
        }
    # Natural shift: summer windows against a winter reference (calibrated on that winter).
    cold = frame[winter.to_numpy()].reset_index(drop=True)
    warm = frame[summer.to_numpy()].reset_index(drop=True)
    natural = settings(cold, size, columns, None)
    summer_windows = [warm.iloc[i] for i in windows(warm, size)] or [warm]
    for setting, opts in natural.items():
        hits = sum(len(set(temperature) & flagged(cold, w, opts)) for w in summer_windows)
        out[setting]["summer_vs_winter_found"] = round(
            hits / (len(summer_windows) * len(temperature)), 4
        )
    return {name: out}


def bikes() -> dict[str, Any]:
    frame = load_bikeshare()
    month = frame["timestamp"].dt.month
    return measure(
        "bikeshare_2011_hourly",
        frame,
        time_column="timestamp",
        columns=[
            "hr",
            "weekday",
            "workingday",
            "holiday",
            "temp",
            "atemp",
            "hum",
            "windspeed",
            "weathersit",
        ],
        numerical=["temp", "atemp", "hum", "windspeed"],
        size=720,
        reference_rows=pd.Series(True, index=frame.index),
        winter=month.isin([1, 2]),
        summer=month.isin([6, 7, 8]),
        temperature=["temp", "atemp"],
        seasonal=None,  # one year: a month has no other year to be compared with
    )


def seattle() -> dict[str, Any]:
    frame = vega.seattle_weather()
    year, month = frame["date"].dt.year, frame["date"].dt.month
    in_reference = year <= 2014
    return measure(
        "seattle_weather_2012_2015_daily",
        frame,
        time_column="date",
        columns=["precipitation", "temp_max", "temp_min", "wind", "weather"],
        numerical=["precipitation", "temp_max", "temp_min", "wind"],
        size=30,
        reference_rows=in_reference,
        winter=in_reference & month.isin([12, 1, 2]),
        summer=in_reference & month.isin([6, 7, 8]),
        temperature=["temp_max", "temp_min"],
        seasonal="month",
    )


def main() -> None:
    started = time.perf_counter()
    report: dict[str, Any] = {"false_alarm_target": RATE, **bikes(), **seattle()}
    report["seconds"] = round(time.perf_counter() - started, 1)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
