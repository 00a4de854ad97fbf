"""A pipeline whose step builds a training set from a feature service (module-level, so a
worker process can import it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import loopml
from loopml.pipelines import pipeline, step


@step
def build(service: str, entities: str, marker_dir: str) -> dict[str, object]:
    """The documented pattern: `loopml.training_set` inside a cached step."""
    with open(Path(marker_dir) / "executed", "a") as handle:
        handle.write("build\n")
    built = loopml.training_set(service, entities, name="demand-training")
    frame: pd.DataFrame = built.frame
    return {
        "training_set": built.uri,
        "rows": len(frame),
        "missing": int(frame["bikers_last_week"].isna().sum()),
        "mean": float(frame["bikers_last_week"].mean()),
    }


@pipeline(name="demand-training")
def demand_training(service: str, entities: str, marker_dir: str) -> dict[str, object]:
    return build(service, entities, marker_dir)
