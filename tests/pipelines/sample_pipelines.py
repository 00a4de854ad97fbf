"""Pipelines the tests run on every executor; module-level so worker processes import them.

Steps that take `marker_dir` append their name to `<marker_dir>/executed` each time they
really run, so tests can prove a cached step was not executed again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from loopml.pipelines import current_run, pipeline, step

SCALE = 2.0


def _mark(marker_dir: str | None, name: str) -> None:
    if marker_dir is not None:
        with open(Path(marker_dir) / "executed", "a") as handle:
            handle.write(name + "\n")


def executed(marker_dir: Path) -> list[str]:
    path = marker_dir / "executed"
    return path.read_text().split() if path.exists() else []


def _double(values: pd.Series) -> pd.Series:
    return values * SCALE


@step
def load(n: int, marker_dir: str | None = None) -> pd.DataFrame:
    _mark(marker_dir, "load")
    rng = np.random.default_rng(7)
    return pd.DataFrame({"x": np.arange(n, dtype=float), "noise": rng.normal(size=n)})


@step
def featurize(frame: pd.DataFrame, marker_dir: str | None = None) -> pd.DataFrame:
    _mark(marker_dir, "featurize")
    return frame.assign(x2=_double(frame["x"]))


@step
def summarize(frame: pd.DataFrame, marker_dir: str | None = None) -> dict[str, float]:
    _mark(marker_dir, "summarize")
    current_run().log_metric("mean_x2", float(frame["x2"].mean()))
    return {"mean_x2": float(frame["x2"].mean()), "rows": float(len(frame))}


@step(name="moments")
def moments(frame: pd.DataFrame, marker_dir: str | None = None) -> np.ndarray:
    _mark(marker_dir, "moments")
    return np.array([frame["noise"].mean(), frame["noise"].std()])


@step
def combine(summary: dict[str, float], stats: np.ndarray, rows: float) -> dict[str, float]:
    return {"mean_x2": summary["mean_x2"], "noise_sd": float(stats[1]), "rows": rows}


@pipeline(name="etl")
def etl(n: int = 20, marker_dir: str | None = None) -> object:
    frame = featurize(load(n, marker_dir), marker_dir)
    summary = summarize(frame, marker_dir)
    stats = moments(frame, marker_dir)  # independent of summarize: a parallel branch
    return combine(summary, stats, summary["rows"])


@step
def first(marker_dir: str) -> int:
    _mark(marker_dir, "first")
    return 21


@step
def second(value: int, marker_dir: str) -> int:
    """Blocks until the test creates `release`, so the test can kill the pipeline here."""
    (Path(marker_dir) / "second-started").touch()
    deadline = time.monotonic() + 60
    while not (Path(marker_dir) / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released step 'second'")
        time.sleep(0.02)
    _mark(marker_dir, "second")
    return value * 2


@pipeline(name="two-steps")
def two_steps(marker_dir: str) -> object:
    return second(first(marker_dir), marker_dir)


@step
def explode(value: int) -> int:
    raise RuntimeError(f"boom at {value}")


@pipeline(name="failing")
def failing(marker_dir: str) -> object:
    value = first(marker_dir)
    return explode(value)


@step
def train(alpha: float, depth: int, offset: float = 0.0) -> dict[str, float]:
    """A fake training step: its loss is smallest for alpha=0.1, depth=3."""
    loss = (alpha - 0.1) ** 2 + (depth - 3) ** 2 + offset
    current_run().log_metric("loss", loss)
    return {"loss": loss, "alpha": alpha, "depth": float(depth)}
