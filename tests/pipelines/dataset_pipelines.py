"""Pipelines that read datasets by name inside their steps (module-level for workers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import loopml
from loopml.pipelines import current_client, pipeline, step


def _mark(marker_dir: str, name: str) -> None:
    with open(Path(marker_dir) / "executed", "a") as handle:
        handle.write(name + "\n")


@step
def load(name: str, marker_dir: str) -> pd.DataFrame:
    """The documented pattern: a dataset loaded by name inside the step."""
    _mark(marker_dir, "load")
    return loopml.load_dataset(name)


@step
def load_through_client(name: str, marker_dir: str) -> pd.DataFrame:
    _mark(marker_dir, "load_through_client")
    return current_client().datasets.load(name)


@step
def rows(frame: pd.DataFrame) -> int:
    return len(frame)


@step
def count_uri(uri: str, marker_dir: str) -> int:
    """Takes a `dataset:` reference as an argument and resolves it itself."""
    _mark(marker_dir, "count_uri")
    return current_client().datasets.get(uri).row_count


@pipeline(name="read-by-name")
def read_by_name(name: str, marker_dir: str) -> int:
    return rows(load(name, marker_dir))


@pipeline(name="read-through-client")
def read_through_client(name: str, marker_dir: str) -> int:
    return rows(load_through_client(name, marker_dir))


@pipeline(name="count-uri")
def count_by_uri(uri: str, marker_dir: str) -> int:
    return count_uri(uri, marker_dir)
