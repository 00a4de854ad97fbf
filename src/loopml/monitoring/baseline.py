"""What a monitor's window is compared with: the reference (or its same-season rows) and
thresholds calibrated on the reference's own windows.

Calibration scores dozens of reference windows, so its thresholds are kept per reference,
window size and season setting: a run of many windows calibrates once.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

import duckdb
import pandas as pd

from loopml.errors import ValidationError
from loopml.monitoring.definition import Monitor
from loopml.monitoring.drift.calibration import (
    Calibration,
    calibrate,
    season_of,
    seasonal_reference,
)
from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.monitoring.results import DriftResult


class ReferenceData(Protocol):
    """What a baseline needs to know of its reference: a dataset version, or a feature
    view's reference rows."""

    @property
    def id(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def time_column(self) -> str | None: ...


class Baseline:
    """Drift of a window against a monitor's reference, with its calibration and seasons."""

    def __init__(self) -> None:
        self._calibrations: dict[tuple[object, ...], Calibration] = {}

    def check_options(self, monitor: Monitor, reference: ReferenceData) -> None:
        """A seasonal monitor needs a reference with a time column."""
        if monitor.config.seasonal and not reference.time_column:
            raise ValidationError(
                f"seasonal={monitor.config.seasonal!r} compares a window with the same "
                f"period of the reference, but {reference.uri} has no time column: log it "
                "with time_column=... or leave seasonal unset"
            )

    def drift(
        self,
        monitor: Monitor,
        reference: ReferenceData,
        ref: duckdb.DuckDBPyRelation,
        current: duckdb.DuckDBPyRelation | pd.DataFrame,
        *,
        columns: list[str],
        options: DriftOptions,
        rows: int,
        window_times: pd.Series | None,
    ) -> DriftResult:
        """`check_drift` of the window, against the seasonal slice and calibrated levels."""
        config = monitor.config
        if config.calibrate != "reference" and not config.seasonal:
            return check_drift(ref, current, columns=columns, options=options)
        frame, periods = self._frame(monitor, reference, ref, columns)
        notes = []
        base: pd.DataFrame | duckdb.DuckDBPyRelation = ref
        if config.seasonal and periods is not None:
            if window_times is None or window_times.dropna().empty:
                notes.append("no window timestamps: compared with the whole reference")
            else:
                window_periods = season_of(window_times, config.seasonal)
                base = seasonal_reference(frame, periods, window_periods)
                covered = sorted({int(p) for p in window_periods.dropna().unique()})
                notes.append(
                    f"compared with the reference's rows of the same {config.seasonal} "
                    f"({', '.join(map(str, covered))}; {len(base):,} rows)"
                )
        if config.calibrate == "reference" and rows > 0:
            calibration = self._calibration(monitor, reference, frame, periods, rows, options)
            options = replace(
                options,
                tests={**calibration.tests, **dict(options.tests or {})},
                thresholds={**calibration.thresholds, **dict(options.thresholds or {})},
            )
            notes.append(
                f"thresholds calibrated on {calibration.windows} reference windows of "
                f"{calibration.window_rows:,} rows ({calibration.method}) for a "
                f"{calibration.false_alarm_rate:g} false-alarm rate"
            )
        result = check_drift(base, current, columns=columns, options=options)
        message = "; ".join([*notes, *([result.message] if result.message else [])])
        return replace(result, message=message or None)

    def _frame(
        self,
        monitor: Monitor,
        reference: ReferenceData,
        ref: duckdb.DuckDBPyRelation,
        columns: list[str],
    ) -> tuple[pd.DataFrame, pd.Series | None]:
        """The reference's monitored columns in time order, and each row's season."""
        time_column = reference.time_column if reference.time_column in ref.columns else None
        wanted = [c for c in columns if c in ref.columns]
        picked = [*wanted, *([time_column] if time_column and time_column not in wanted else [])]
        frame = ref.project(", ".join(f'"{c}"' for c in picked)).df() if picked else ref.df()
        if time_column:
            frame = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
        periods = None
        if monitor.config.seasonal and time_column:
            periods = season_of(frame[time_column], monitor.config.seasonal)
        return frame[wanted] if wanted else frame, periods

    def _calibration(
        self,
        monitor: Monitor,
        reference: ReferenceData,
        frame: pd.DataFrame,
        periods: pd.Series | None,
        rows: int,
        options: DriftOptions,
    ) -> Calibration:
        size = _bucket(rows)
        config = monitor.config
        key = (
            monitor.name,
            reference.id,
            size,
            config.seasonal,
            config.false_alarm_rate,
            tuple(frame.columns),
            options.categorical,
            options.numerical,
            repr(options.tests),
            repr(options.thresholds),
        )
        if key not in self._calibrations:
            self._calibrations[key] = calibrate(
                frame,
                size,
                options=replace(options, columns=tuple(frame.columns)),
                false_alarm_rate=config.false_alarm_rate,
                periods=periods,
            )
        return self._calibrations[key]


def _bucket(rows: int) -> int:
    """Window sizes rounded to two significant digits: time windows of 713 and 722 rows
    share one calibration (the spread of a statistic changes slowly with the size)."""
    if rows < 100:
        return rows
    digits = math.floor(math.log10(rows)) - 1
    return round(rows, -digits)
