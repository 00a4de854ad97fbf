"""Thresholds from the reference's own variation, and seasonal slices of a reference.

A fixed threshold (p ≤ 0.05, distance ≥ 0.1) answers "do these two samples come from one
distribution?". Real data is never one distribution: temperature moves with the season,
traffic with the weekday, so a window of a stable column fails that test most of the time.
Calibration asks instead "is this window further from the reference than the reference's
own windows of the same size are?": the statistic is computed for many windows cut from the
reference itself, and the threshold is the quantile that a share `false_alarm_rate` of them
would cross. Windows are contiguous stretches in the reference's order (its time order),
so they carry its natural variation; a reference too short for several such stretches
falls back to random samples, which carry sampling noise only.

A seasonal reference compares a window with the same period of the reference (month of
year, day of week, hour of day): the reference rows of each period the window covers, mixed
in the window's proportions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom  # type: ignore[import-untyped]

from loopml.errors import ValidationError
from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.monitoring.drift.stat_tests import get_test

SEASONS = ("month", "dayofweek", "hour")
CALIBRATIONS = ("reference", "fixed")
MAX_WINDOWS = 60  # reference windows scored per calibration
MIN_BLOCKS = 3  # fewer disjoint stretches than this: random samples instead
DISTANCES = {"numerical": "wasserstein", "categorical": "jensenshannon"}
MIN_P = 1e-300  # a calibrated p-value threshold stays a valid level (> 0)
CONFIDENCE = 0.8  # share of calibrations whose threshold keeps the promised false-alarm rate


@dataclass(frozen=True)
class Calibration:
    """Per-column thresholds (and the test they belong to) for windows of `window_rows`."""

    window_rows: int
    false_alarm_rate: float
    method: str  # "blocks" (contiguous stretches) or "samples" (random rows)
    windows: int  # reference windows scored
    thresholds: dict[str, float] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)

    def describe(self, column: str) -> str:
        return (
            f"threshold calibrated on {self.windows} reference windows of "
            f"{self.window_rows:,} rows ({self.method}) for a {self.false_alarm_rate:g} "
            "false-alarm rate"
        )


def check_false_alarm_rate(rate: Any) -> float:
    ok = isinstance(rate, int | float) and not isinstance(rate, bool)
    if not ok or not 0.0 < float(rate) < 0.5:
        raise ValidationError(
            f"false_alarm_rate must be a share between 0 and 0.5 (e.g. 0.05 for 5 % of "
            f"windows of unchanged data flagged), got {rate!r}"
        )
    return float(rate)


def check_season(seasonal: Any) -> str | None:
    if seasonal is None or seasonal in SEASONS:
        return seasonal  # type: ignore[no-any-return]
    raise ValidationError(
        f"seasonal {seasonal!r} is unknown: use one of {', '.join(SEASONS)} (or None)"
    )


def season_of(times: pd.Series, seasonal: str) -> pd.Series:
    """The period of each timestamp: month 1-12, weekday 0-6 (Monday 0) or hour 0-23."""
    stamps = pd.to_datetime(times, utc=True)
    if seasonal == "month":
        return stamps.dt.month
    if seasonal == "dayofweek":
        return stamps.dt.day_of_week
    if seasonal == "hour":
        return stamps.dt.hour
    raise ValidationError(f"seasonal {seasonal!r} is unknown: use one of {', '.join(SEASONS)}")


def seasonal_reference(
    reference: pd.DataFrame, periods: pd.Series, window_periods: pd.Series, *, seed: int = 0
) -> pd.DataFrame:
    """The reference rows of the window's periods, in the window's proportions.

    `periods` holds the period of each reference row, `window_periods` those of the
    window's rows. Each period keeps as many reference rows as the rarest one allows, so
    the mix matches the window's; a period the reference lacks leaves the result empty
    (nothing to compare with is not "no drift").
    """
    shares = window_periods.dropna().value_counts(normalize=True)
    if shares.empty:
        return reference.iloc[0:0]
    keys = periods.to_numpy()
    pools = {p: np.flatnonzero(keys == p) for p in shares.index}
    if any(len(rows) == 0 for rows in pools.values()):
        return reference.iloc[0:0]
    scale = min(len(pools[p]) / share for p, share in shares.items())
    rng = np.random.default_rng(seed)
    picked = []
    for p, share in shares.items():
        take = max(1, min(len(pools[p]), round(scale * share)))
        rows = pools[p]
        picked.append(rows if take == len(rows) else np.sort(rng.choice(rows, take, False)))
    return reference.iloc[np.sort(np.concatenate(picked))]


def reference_windows(rows: int, size: int, *, limit: int = MAX_WINDOWS) -> tuple[str, list[int]]:
    """Start positions of the calibration windows: contiguous when enough fit."""
    if rows >= MIN_BLOCKS * size:
        count = min(limit, rows - size + 1)
        return "blocks", sorted({int(s) for s in np.linspace(0, rows - size, count)})
    return "samples", list(range(limit))


def calibrate(
    reference: pd.DataFrame,
    window_rows: int,
    *,
    options: DriftOptions,
    false_alarm_rate: float = 0.05,
    periods: pd.Series | None = None,
    limit: int = MAX_WINDOWS,
    seed: int = 0,
) -> Calibration:
    """Thresholds at which `false_alarm_rate` of the reference's own windows would drift.

    `reference` is in time order. With `periods` (the season of each reference row) every
    reference window is compared with the seasonal reference of its own periods, taken
    from the rest of the reference, as a seasonal monitor compares a live window.
    Columns the options give a threshold for keep it.
    """
    rate = check_false_alarm_rate(false_alarm_rate)
    if window_rows < 1:
        raise ValidationError(f"window_rows must be ≥ 1, got {window_rows!r}")
    size = min(window_rows, len(reference))
    method, starts = reference_windows(len(reference), size, limit=limit)
    rng = np.random.default_rng(seed)
    quiet = _distance_tests(reference, size, replace(options, histograms=False, workers=None))
    statistics: dict[str, list[float]] = {}
    chosen: dict[str, list[str]] = {}
    for start in starts:
        if method == "blocks":
            index = np.arange(start, start + size)
        else:
            index = np.sort(rng.choice(len(reference), size, replace=size > len(reference) // 2))
        window = reference.iloc[index]
        base = reference
        if periods is not None:
            rest = np.ones(len(reference), bool)
            rest[index] = False
            base = seasonal_reference(
                reference.iloc[rest], periods[rest], periods.iloc[index], seed=start
            )
            if base.empty:
                continue
        result = check_drift(base, window, options=quiet)
        for item in result.columns:
            if item.statistic is None or item.test is None or not math.isfinite(item.statistic):
                continue
            statistics.setdefault(item.column, []).append(item.statistic)
            chosen.setdefault(item.column, []).append(item.test)
    thresholds: dict[str, float] = {}
    tests: dict[str, str] = {}
    for column, values in statistics.items():
        if options.threshold_for(column) is not None:
            continue
        name = max(set(chosen[column]), key=chosen[column].count)
        kept = [v for v, t in zip(values, chosen[column], strict=True) if t == name]
        tests[column] = name
        thresholds[column] = _quantile(kept, rate, get_test(name).statistic == "p_value")
    return Calibration(size, rate, method, len(starts), thresholds, tests)


def _distance_tests(reference: pd.DataFrame, size: int, options: DriftOptions) -> DriftOptions:
    """Distances for the columns without a forced test: Wasserstein (numerical) or
    Jensen-Shannon (categorical). A p-value of a big window against a seasonal reference is
    0.0 in most windows, and a quantile of zeros cannot tell windows apart; a distance can.
    """
    probe = check_drift(reference, reference.iloc[:size], options=options)
    tests = dict(options.tests or {})
    for column in probe.columns:
        if column.kind is not None and options.test_for(column.column) is None:
            tests[column.column] = DISTANCES[column.kind]
    return replace(options, tests=tests)


def _quantile(values: Sequence[float], rate: float, p_value: bool) -> float:
    """The level that at most `rate` of future windows cross (drift is p ≤ t or distance ≥ t).

    Not the plain empirical quantile: from a few dozen windows that one lands above the
    true quantile only about half the time, so half of all monitors would alarm more often
    than promised. The level is an upper confidence bound of the quantile instead: the
    order statistic that, for independent windows, holds the promised rate in at least
    `CONFIDENCE` of calibrations (the largest value when there are too few windows for
    that).
    """
    data = np.sort(np.asarray(values, dtype=float))
    if p_value:
        data = data[::-1]  # the extreme end of a p-value is its smallest value
    rank = _confident_rank(len(data), rate)  # 1 = the most extreme window
    level = float(data[len(data) - rank])
    if p_value:
        return max(MIN_P, math.nextafter(level, -math.inf)) if level < 1.0 else 0.999999
    return max(math.nextafter(level, math.inf), 1e-12)


def _confident_rank(windows: int, rate: float) -> int:
    """The largest j such that the j-th most extreme of `windows` values is crossed by at
    most `rate` of new windows with probability ≥ CONFIDENCE: P(Binomial(windows, rate) ≥ j).
    """
    rank = 1
    while rank < windows and float(binom.sf(rank, windows, rate)) >= CONFIDENCE:
        rank += 1
    return rank
