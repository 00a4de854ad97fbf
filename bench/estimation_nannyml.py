"""NannyML's CBPE and DLE on the windows `bench/estimation.py` prepared; runs in NannyML's
own environment and prints one JSON line: per case, per window, per metric, the value and
the band NannyML reports (its confidence band: ±3 sampling errors by default).

    /tmp/peer-venvs/nannyml/bin/python bench/estimation_nannyml.py FOLDER
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import nannyml as nml
import pandas as pd


def estimates(case: dict[str, Any], folder: Path) -> dict[str, dict[str, Any]]:
    reference = pd.read_parquet(folder / f"{case['case']}-reference.parquet")
    analysis = pd.read_parquet(folder / f"{case['case']}-analysis.parquet")
    out: dict[str, dict[str, Any]] = {}
    for label, window in analysis.groupby("window", sort=False):
        # one chunk per window, with the sampling error of a chunk of the window's size
        estimator, metrics = _estimator(case, len(window))
        estimator.fit(reference)
        frame = estimator.estimate(window.drop(columns=["label", "window"])).to_df()
        row = frame[frame[("chunk", "period")] == "analysis"].iloc[0]
        found = {}
        for metric in metrics:
            value = row[(metric, "value")]
            lower = row[(metric, "lower_confidence_boundary")]
            upper = row[(metric, "upper_confidence_boundary")]
            found[metric] = {
                "value": None if pd.isna(value) else float(value),
                "lower": None if pd.isna(lower) else float(lower),
                "upper": None if pd.isna(upper) else float(upper),
            }
        out[str(label)] = found
    return out


def _estimator(case: dict[str, Any], size: int) -> tuple[Any, list[str]]:
    if case["task"] == "regression":
        metrics = ["mae", "rmse"]
        return nml.DLE(
            feature_column_names=case["features"],
            y_pred="prediction",
            y_true="label",
            metrics=metrics,
            chunk_size=size,
        ), metrics
    metrics = ["accuracy", "f1", "roc_auc"]
    return nml.CBPE(
        y_pred_proba="proba_1",
        y_pred="prediction",
        y_true="label",
        metrics=metrics,
        problem_type="classification_binary",
        chunk_size=size,
    ), metrics


def main() -> None:
    folder = Path(sys.argv[1])
    cases = json.loads((folder / "cases.json").read_text())
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = {case["case"]: estimates(case, folder) for case in cases}
    meta = {
        "version": nml.__version__,
        "pandas": pd.__version__,
        "band": "NannyML confidence boundary (value ± 3 sampling errors)",
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({"meta": meta, "cases": result}))


if __name__ == "__main__":
    main()
