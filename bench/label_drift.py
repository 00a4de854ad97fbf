"""False alarms and found shifts of label drift: feedback labels against the reference's
target, with fixed thresholds and with the monitors' default calibration.

Two real data sets, read offline, each with a real shift of its outcomes:

- bike-share 2011 hourly (loopml.samples): the reference is January-February, whose
  demand (`bikers`) the winter model was trained on; control windows are consecutive
  windows inside January-February; the shift is June-August demand. A regression target:
  the numerical test (Wasserstein distance when calibrated).
- Seattle's daily weather (vega_datasets): the reference is 2012; control windows are
  consecutive windows inside 2012; the shift is 2014, when the data set's labels moved from
  rain to fog (191 rain days in 2012, 3 in 2014). A classifier's target: the categorical
  test (Jensen-Shannon distance when calibrated).

A false alarm is a control window flagged; a found shift is a shifted window flagged.
Consecutive windows inside one reference period are few (8 and 11), so the rate is
measured on windows sliding a tenth of a window at a time (overlapping, so neighbours are
alike; the consecutive count is reported beside it).
The labels are compared as the monitor compares them (`loopml.monitoring.label_drift`):
normalised, one declared kind, thresholds calibrated on the reference's own windows of the
window's size for a 5 % false-alarm rate.

    PYTHONPATH=src python bench/label_drift.py            # prints JSON
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

from loopml.monitoring.drift.calibration import calibrate
from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.monitoring.performance import normalise
from loopml.samples import load_bikeshare

RATE = 0.05
LABEL = "label"


def windows(values: pd.Series, size: int, step: int | None = None) -> list[pd.Series]:
    """Windows starting half a window in (aligned with nothing), every `step` rows
    (default: consecutive, not overlapping)."""
    stride = step or size
    return [values.iloc[s : s + size] for s in range(size // 2, len(values) - size + 1, stride)]


def as_labels(values: pd.Series, kind: str) -> pd.DataFrame:
    normalised = [normalise(v) for v in values]
    if kind == "categorical":
        column: list[Any] = [None if v is None else str(v) for v in normalised]
    else:
        column = [np.nan if v is None else float(v) for v in normalised]  # type: ignore[arg-type]
    return pd.DataFrame({LABEL: column})


def measure(
    name: str, reference: pd.Series, shifted: pd.Series, *, kind: str, size: int
) -> dict[str, Any]:
    ref = as_labels(reference.reset_index(drop=True), kind)
    declared = {"categorical" if kind == "categorical" else "numerical": (LABEL,)}
    fixed = DriftOptions(columns=(LABEL,), histograms=False, **declared)
    started = time.perf_counter()
    found = calibrate(ref, size, options=fixed, false_alarm_rate=RATE)
    calibration_s = time.perf_counter() - started
    options = {
        "fixed": fixed,
        "calibrated": replace(fixed, tests=found.tests, thresholds=found.thresholds),
    }
    control = windows(ref[LABEL], size)
    sliding = windows(ref[LABEL], size, max(1, size // 10))
    moved = windows(as_labels(shifted.reset_index(drop=True), kind)[LABEL], size)
    out: dict[str, Any] = {
        "kind": kind,
        "reference_rows": len(ref),
        "window_rows": size,
        "control_windows": len(control),
        "sliding_control_windows": len(sliding),
        "shifted_windows": len(moved),
        "calibration_seconds": round(calibration_s, 2),
    }
    for setting, opts in options.items():
        alarms = sum(_flagged(ref, w, opts) for w in control)
        slid = sum(_flagged(ref, w, opts) for w in sliding)
        hits = sum(_flagged(ref, w, opts) for w in moved)
        out[setting] = {
            "test": check_drift(ref, control[0].to_frame(), options=opts).columns[0].test,
            "false_alarm_rate": round(slid / len(sliding), 4),
            "false_alarms": f"{slid} of {len(sliding)} sliding control windows",
            "false_alarms_disjoint": f"{alarms} of {len(control)} consecutive control windows",
            "shift_found": round(hits / len(moved), 4),
            "found": f"{hits} of {len(moved)} shifted windows",
        }
    return {name: out}


def _flagged(reference: pd.DataFrame, window: pd.Series, options: DriftOptions) -> bool:
    return bool(check_drift(reference, window.to_frame(), options=options).columns[0].drift)


def bikes() -> dict[str, Any]:
    frame = load_bikeshare().sort_values("timestamp")
    month = frame["timestamp"].dt.month
    return measure(
        "bikeshare_2011_hourly_bikers",
        frame.loc[month.isin([1, 2]), "bikers"],
        frame.loc[month.isin([6, 7, 8]), "bikers"],
        kind="numerical",
        size=150,
    )


def seattle() -> dict[str, Any]:
    frame = vega.seattle_weather().sort_values("date")
    year = frame["date"].dt.year
    return measure(
        "seattle_weather_daily_weather",
        frame.loc[year == 2012, "weather"],
        frame.loc[year == 2014, "weather"],
        kind="categorical",
        size=30,
    )


def main() -> None:
    started = time.perf_counter()
    report: dict[str, Any] = {"false_alarm_target": RATE, **bikes(), **seattle()}
    report["seconds"] = round(time.perf_counter() - started, 1)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
