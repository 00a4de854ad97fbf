"""Where an MLflow artifact URI's files are on this machine, given the store's artifact
root: MLflow writes absolute paths, `file:` URIs or `mlflow-artifacts:` URIs (served
artifacts), and a store copied to another machine keeps the old paths."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from loopml.imports.mlflow.records import SourceRun

SERVED = "mlflow-artifacts:"


def candidates(uri: str, root: Path, experiment_id: str, run_id: str | None) -> list[Path]:
    """The folders `uri` may name, most likely first."""
    found: list[Path] = []
    if uri.startswith(SERVED):
        rest = urlparse(uri).path if uri.startswith(SERVED + "//") else uri[len(SERVED) :]
        found.append(root / unquote(rest).lstrip("/"))
    elif uri.startswith("file:"):
        found.append(Path(unquote(urlparse(uri).path)))
    elif "://" not in uri and uri:
        found.append(Path(uri))
    parts = [p for p in urlparse(uri).path.split("/") if p]
    if experiment_id in parts:  # the same layout under this root
        at = len(parts) - 1 - parts[::-1].index(experiment_id)
        found.append(root.joinpath(*parts[at:]))
    if run_id is not None:
        found.append(root / experiment_id / run_id / "artifacts")
    return list(dict.fromkeys(found))


def locate(uri: str, root: Path, experiment_id: str, run_id: str | None) -> Path | None:
    """The first candidate folder that exists, or None."""
    for folder in candidates(uri, root, experiment_id, run_id):
        if folder.is_dir():
            return folder
    return None


def run_relative(source: str, run: SourceRun) -> str | None:
    """The path inside `run`'s artifacts that a model version's source names, when it
    names one: `runs:/<run>/<path>` or `<the run's artifact URI>/<path>`."""
    if source.startswith(f"runs:/{run.id}/"):
        return source.removeprefix(f"runs:/{run.id}/").strip("/")
    base = run.artifact_uri.rstrip("/")
    if base and source.startswith(base + "/"):
        return source[len(base) + 1 :].strip("/")
    return None
