"""Label-free performance estimates against the realized metrics, on real data with drift.

Each case trains a model on an early period, fits the estimator on the next period (the
labelled reference, which the model did not train on), then walks later windows of time:
per window, the estimate from predictions alone beside the metric the labels give.

- bikes-dle: bike-share 2011 hourly (loopml.samples), demand regression; trained on
  January-February, reference March, one window per later month (spring to winter).
- seattle-temps-dle: Seattle's hourly temperature 2010 (vega_datasets), the temperature
  24 hours ahead; same months as above.
- bikes-cbpe: the bike-share hours as a classifier: is the hour busy (≥ 150 bikers)?
- seattle-rain-cbpe: Seattle's daily weather 2012-2015 (vega_datasets): will it rain
  tomorrow? Trained on 2012, reference 2013, one window per quarter of 2014-2015.

Reported per case: the mean absolute estimation error, that of the naive guess "the
reference's own metric" (what one assumes without an estimate), and the band coverage
(share of windows whose realized metric lies inside the 95 % band). With `--nannyml PYTHON`
(a Python with nannyml installed) NannyML's CBPE/DLE run on the same windows and are
reported beside ours.

    PYTHONPATH=src python bench/estimation.py [--nannyml /tmp/peer-venvs/nannyml/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)
from vega_datasets import data as vega

from loopml.monitoring.estimation import ConfidenceEstimator, Estimate, LossEstimator
from loopml.samples import TARGET, bikeshare_features, load_bikeshare

LEVEL = 0.95
BUSY = 150


@dataclass
class Case:
    """A model's reference and later windows: inputs, predictions, scores and labels."""

    name: str
    task: str  # regression | classification
    reference: pd.DataFrame  # feature columns + prediction (+ proba_1) + label
    windows: list[tuple[str, pd.DataFrame]]
    features: list[str]


def realized(task: str, frame: pd.DataFrame) -> dict[str, float | None]:
    truth, predicted = frame["label"].to_numpy(), frame["prediction"].to_numpy()
    if task == "regression":
        return {
            "mae": float(mean_absolute_error(truth, predicted)),
            "rmse": float(root_mean_squared_error(truth, predicted)),
        }
    both = len(set(truth)) == 2
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, frame["proba_1"])) if both else None,
    }


def estimator_for(case: Case) -> Callable[[pd.DataFrame], dict[str, Estimate]]:
    ref = case.reference
    if case.task == "regression":
        loss = LossEstimator.fit(ref[case.features], ref["prediction"], ref["label"])
        return lambda w: loss.estimate(w[case.features], w["prediction"], level=LEVEL)
    proba = ref[["proba_0", "proba_1"]].to_numpy()
    cbpe = ConfidenceEstimator.fit(proba, ref["label"].tolist(), [0, 1])
    return lambda w: cbpe.estimate(w[["proba_0", "proba_1"]].to_numpy(), level=LEVEL)


def run_case(case: Case, nannyml: dict[str, Any] | None) -> dict[str, Any]:
    started = time.perf_counter()
    estimate = estimator_for(case)
    fitted_s = time.perf_counter() - started
    naive = realized(case.task, case.reference)
    rows = []
    for label, window in case.windows:
        truth = realized(case.task, window)
        guess = estimate(window)
        peer = (nannyml or {}).get(label, {})
        for metric, value in truth.items():
            if value is None:
                continue
            mine = guess[metric]
            row = {
                "window": label,
                "rows": len(window),
                "metric": metric,
                "realized": round(value, 4),
                "estimated": _round(mine.value),
                "lower": _round(mine.lower),
                "upper": _round(mine.upper),
                "error": _round(None if mine.value is None else abs(mine.value - value)),
                "covered": mine.covers(value),
                "naive_error": _round(abs(float(naive[metric] or 0) - value)),
            }
            if metric in peer:
                theirs = peer[metric]
                row["nannyml"] = _round(theirs["value"])
                row["nannyml_error"] = _round(
                    None if theirs["value"] is None else abs(theirs["value"] - value)
                )
                row["nannyml_covered"] = (
                    theirs["lower"] is not None and theirs["lower"] <= value <= theirs["upper"]
                )
            rows.append(row)
    return {
        "case": case.name,
        "task": case.task,
        "reference_rows": len(case.reference),
        "fit_s": round(fitted_s, 2),
        "summary": summary(rows),
        "windows": rows,
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in sorted({r["metric"] for r in rows}):
        mine = [r for r in rows if r["metric"] == metric]
        item = {
            "windows": len(mine),
            "mean_abs_error": _mean([r["error"] for r in mine]),
            "naive_mean_abs_error": _mean([r["naive_error"] for r in mine]),
            "coverage": round(sum(r["covered"] for r in mine) / len(mine), 3),
        }
        theirs = [r for r in mine if "nannyml_error" in r]
        if theirs:
            item["nannyml_mean_abs_error"] = _mean([r["nannyml_error"] for r in theirs])
            item["nannyml_coverage"] = round(
                sum(r["nannyml_covered"] for r in theirs) / len(theirs), 3
            )
        out[metric] = item
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(float(np.mean(kept)), 4) if kept else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# ---------------------------------------------------------------------- cases
def by_month(frame: pd.DataFrame, month: pd.Series, months: range) -> list[tuple[str, Any]]:
    """One window per month number in `months`."""
    return [
        (f"{pd.Timestamp(2011, m, 1):%b}", frame[month == m].reset_index(drop=True)) for m in months
    ]


def bikes_cases() -> list[Case]:
    bikes = load_bikeshare().sort_values("timestamp", ignore_index=True)
    x = bikeshare_features(bikes)
    features = list(x.columns)
    month = bikes["timestamp"].dt.month
    train = month <= 2
    regressor = HistGradientBoostingRegressor(max_iter=100, random_state=0)
    regressor.fit(x[train], bikes.loc[train, TARGET])
    frame = x.assign(prediction=regressor.predict(x), label=bikes[TARGET].astype(float))
    busy = (bikes[TARGET] >= BUSY).astype(int)
    classifier = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    classifier.fit(x[train], busy[train])
    proba = classifier.predict_proba(x)
    labelled = x.assign(
        prediction=proba.argmax(axis=1), proba_0=proba[:, 0], proba_1=proba[:, 1], label=busy
    )
    return [
        Case(
            "bikes-dle",
            "regression",
            frame[month == 3],
            by_month(frame, month, range(4, 13)),
            features,
        ),
        Case(
            "bikes-cbpe",
            "classification",
            labelled[month == 3],
            by_month(labelled, month, range(4, 13)),
            features,
        ),
    ]


def seattle_temps_case() -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        temps = vega.seattle_temps()
    temps = temps.sort_values("date", ignore_index=True)
    stamps = pd.to_datetime(temps["date"])
    t = temps["temp"].astype(float)
    x = pd.DataFrame(
        {
            "hour": stamps.dt.hour,
            "dayofyear": stamps.dt.day_of_year,
            "temp": t,
            "temp_1h_ago": t.shift(1),
            "temp_24h_ago": t.shift(24),
            "change_24h": t - t.shift(24),
        }
    )
    target = t.shift(-24)
    keep = x.notna().all(axis=1) & target.notna()
    x, target, stamps = x[keep].reset_index(drop=True), target[keep], stamps[keep]
    target, stamps = target.reset_index(drop=True), stamps.reset_index(drop=True)
    month = stamps.dt.month
    train = month <= 2
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0)
    model.fit(x[train], target[train])
    frame = x.assign(prediction=model.predict(x), label=target)
    return Case(
        "seattle-temps-dle",
        "regression",
        frame[month == 3].reset_index(drop=True),
        by_month(frame, month, range(4, 13)),
        list(x.columns),
    )


def seattle_rain_case() -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weather = vega.seattle_weather()
    weather = weather.sort_values("date", ignore_index=True)
    stamps = pd.to_datetime(weather["date"])
    day = stamps.dt.day_of_year
    x = pd.DataFrame(
        {
            "precipitation": weather["precipitation"],
            "temp_max": weather["temp_max"],
            "temp_min": weather["temp_min"],
            "wind": weather["wind"],
            "season_sin": np.sin(2 * np.pi * day / 365.25),
            "season_cos": np.cos(2 * np.pi * day / 365.25),
            "rained_yesterday": (weather["precipitation"].shift(1) > 0).astype(float),
        }
    )
    tomorrow = (weather["precipitation"].shift(-1) > 0).astype(int)
    keep = weather["precipitation"].shift(-1).notna() & x.notna().all(axis=1)
    x, tomorrow, stamps = x[keep], tomorrow[keep], stamps[keep]
    year = stamps.dt.year
    model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.05, random_state=0)
    model.fit(x[year == 2012], tomorrow[year == 2012])
    proba = model.predict_proba(x)
    frame = x.assign(
        prediction=proba.argmax(axis=1), proba_0=proba[:, 0], proba_1=proba[:, 1], label=tomorrow
    ).reset_index(drop=True)
    stamps = stamps.reset_index(drop=True)
    windows = []
    for y in (2014, 2015):
        for q in range(1, 5):
            mask = (stamps.dt.year == y) & (stamps.dt.quarter == q)
            windows.append((f"{y}Q{q}", frame[mask].reset_index(drop=True)))
    reference = frame[stamps.dt.year == 2013].reset_index(drop=True)
    return Case("seattle-rain-cbpe", "classification", reference, windows, list(x.columns))


# ---------------------------------------------------------------------- NannyML
def run_nannyml(python: str, cases: list[Case]) -> dict[str, Any]:
    """NannyML's CBPE / DLE on the same reference and windows, in its own environment."""
    script = Path(__file__).with_name("estimation_nannyml.py")
    with tempfile.TemporaryDirectory() as folder:
        spec = []
        for case in cases:
            case.reference.to_parquet(Path(folder) / f"{case.name}-reference.parquet")
            analysis = pd.concat(
                [w.assign(window=label) for label, w in case.windows], ignore_index=True
            )
            analysis.to_parquet(Path(folder) / f"{case.name}-analysis.parquet")
            spec.append({"case": case.name, "task": case.task, "features": case.features})
        (Path(folder) / "cases.json").write_text(json.dumps(spec))
        done = subprocess.run(
            [python, str(script), folder], capture_output=True, text=True, timeout=1800
        )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-5:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nannyml", help="a Python with nannyml installed, to compare")
    args = parser.parse_args()
    started = time.perf_counter()
    cases = [*bikes_cases(), seattle_temps_case(), seattle_rain_case()]
    peer: dict[str, Any] = {}
    if args.nannyml:
        peer = run_nannyml(args.nannyml, cases)
        print(f"[estimation] nannyml: {json.dumps(peer.get('meta', peer))[:300]}", file=sys.stderr)
    results = [run_case(case, peer.get("cases", {}).get(case.name)) for case in cases]
    for result in results:
        print(f"[estimation] {result['case']}: {json.dumps(result['summary'])}", file=sys.stderr)
    print(
        json.dumps(
            {
                "benchmark": "estimation",
                "level": LEVEL,
                "nannyml": peer.get("meta") or peer.get("error"),
                "cases": results,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
