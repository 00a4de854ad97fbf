"""`loopml reproduce`: train a registered version again from its record, and compare.

The version's run recorded its code (git commit + a diff holding uncommitted changes and
untracked files), how it was started (script or module, arguments, repository) and which
dataset versions it read. A reproduction checks the commit out in a temporary git worktree,
applies the diff, and starts the entry point again against the same workspace with
`LOOPML_REPRODUCE_RUN` set: floating dataset names then resolve to the versions the
original run read, and the new runs are tagged `loopml.reproduces`. The model the new run
logs at the same artifact path is compared with the registered one on the original run's
data: identical, within tolerance, or different, with numbers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.data import DatasetService
from loopml.errors import NotFoundError, ValidationError
from loopml.registry.packaging.load import LoadedModel, load_model
from loopml.registry.records import ModelVersion
from loopml.registry.service import RegistryService
from loopml.tracking import RunRecord, TrackingService

REPRODUCES_TAG = "loopml.reproduces"
DIFF_ARTIFACT = "code/uncommitted.diff"
IDENTICAL, WITHIN, DIFFERS = "identical", "within tolerance", "differs"
PROBE_ROWS = 1000


@dataclass(frozen=True)
class Reproduction:
    """What a reproduction did and found."""

    version: str  # model URI
    original_run: str
    new_run: str | None
    commit: str | None
    command: list[str]
    datasets: list[str]
    returncode: int
    verdict: str | None  # identical | within tolerance | differs; None when it did not run
    rows: int = 0
    max_abs_diff: float | None = None
    equal_share: float | None = None
    compared_on: str | None = None  # which rows the predictions were compared on
    tolerance: float = 0.0
    seconds: float = 0.0
    output_tail: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict in (IDENTICAL, WITHIN)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


Runner = Callable[[list[str], Path, dict[str, str]], subprocess.CompletedProcess[str]]


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=3600
    )


class ReproductionService:
    """Re-run the training of a model version and compare its predictions."""

    def __init__(
        self,
        registry: RegistryService,
        tracking: TrackingService,
        datasets: DatasetService,
    ) -> None:
        self.registry = registry
        self.tracking = tracking
        self.datasets = datasets

    def plan(self, ref: str | ModelVersion, repository: Path | None = None) -> dict[str, Any]:
        """What would be run, where, on which data; raises when the record is not enough."""
        version = self.registry.get_version(ref)
        if version.run_id is None:
            raise NotFoundError(f"{version.uri} has no run: nothing records how it was trained")
        run = self.tracking.get_run(version.run_id)
        entry = (run.environment or {}).get("entry_point")
        if not entry or entry.get("kind") not in ("script", "module"):
            raise ValidationError(
                f"{version.uri}'s run {run.id} recorded no script or module to start again "
                "(it was started interactively, or before entry points were recorded)"
            )
        if run.git_commit is None:
            raise ValidationError(
                f"{version.uri}'s run {run.id} was not started inside a git repository; "
                "there is no commit to check out"
            )
        repo = repository or (Path(entry["repository"]) if entry.get("repository") else None)
        if repo is None or not (repo / ".git").exists():
            raise NotFoundError(
                f"the repository {entry.get('repository')} that trained {version.uri} is not "
                "here; pass --repo PATH to a clone of it"
            )
        if entry["kind"] == "script":
            command = [sys.executable, str(entry["script"]), *entry.get("argv", [])]
        else:
            command = [sys.executable, "-m", str(entry["module"]), *entry.get("argv", [])]
        return {
            "version": version,
            "run": run,
            "repository": repo,
            "cwd": str(entry.get("cwd") or "."),
            "command": command,
            "datasets": [str(i["dataset"]) for i in run.inputs],
        }

    def reproduce(
        self,
        ref: str | ModelVersion,
        *,
        environment: dict[str, str],
        repository: Path | None = None,
        tolerance: float = 1e-6,
        keep: bool = False,
        runner: Runner = _run,
    ) -> Reproduction:
        """Check out, re-run, compare. `environment` reaches the workspace's stores (the
        caller's settings as `LOOPML_*` variables)."""
        plan = self.plan(ref, repository)
        version: ModelVersion = plan["version"]
        run: RunRecord = plan["run"]
        started = time.time()
        workdir = Path(tempfile.mkdtemp(prefix="loopml-reproduce-"))
        tree = workdir / "tree"
        notes: list[str] = []
        try:
            _git(
                plan["repository"], ["worktree", "add", "--detach", str(tree), str(run.git_commit)]
            )
            if run.git_diff_digest:
                patch = workdir / "uncommitted.diff"
                patch.write_bytes(self.tracking.read_artifact(run.id, DIFF_ARTIFACT))
                _git(tree, ["apply", "--binary", "--whitespace=nowarn", str(patch)])
                notes.append("applied the recorded uncommitted changes and untracked files")
            env = {
                **os.environ,
                **environment,
                "LOOPML_REPRODUCE_RUN": run.id,
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(tree), os.environ.get("PYTHONPATH", "")) if p
                ),
            }
            done = runner(plan["command"], tree / plan["cwd"], env)
            output = (done.stdout or "") + (done.stderr or "")
            tail = "\n".join(output.strip().splitlines()[-15:])
            if done.returncode != 0:
                return self._result(plan, None, done.returncode, None, started, tail, notes)
            new_run = self._new_run(run.id, version.artifact_path, started)
            if new_run is None:
                notes.append(
                    f"the re-run logged no model at '{version.artifact_path}' in a run tagged "
                    f"{REPRODUCES_TAG}={run.id}"
                )
                return self._result(plan, None, done.returncode, None, started, tail, notes)
            comparison = self._compare(version, run, new_run, workdir, tolerance)
            return self._result(
                plan, new_run, done.returncode, comparison, started, tail, notes, tolerance
            )
        finally:
            if not keep:
                _git(plan["repository"], ["worktree", "remove", "--force", str(tree)], check=False)
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                notes.append(f"kept the worktree at {tree}")

    # ------------------------------------------------------------------ helpers
    def _new_run(self, original: str, artifact_path: str, since: float) -> RunRecord | None:
        """The newest run tagged as reproducing `original`, started since, holding a model."""
        prefix = artifact_path.strip("/") + "/"
        candidates = self.tracking.search_runs(
            filter=f"tags.`{REPRODUCES_TAG}` = '{original}' and start_time >= {since - 1}",
            order_by="start_time DESC",
        )
        for record in candidates:
            if any(a["path"].startswith(prefix) for a in self.tracking.list_artifacts(record.id)):
                return record
        return None

    def _compare(
        self,
        version: ModelVersion,
        run: RunRecord,
        new_run: RunRecord,
        workdir: Path,
        tolerance: float,
    ) -> dict[str, Any]:
        original = self.registry.load(version)
        again = self._load_run_model(new_run.id, version.artifact_path, workdir / "model")
        frame, source = self._data_for(run, original)
        a = np.asarray(original.predict(frame), dtype=float)
        b = np.asarray(again.predict(frame), dtype=float)
        diff = np.abs(a - b)
        largest = float(np.nanmax(diff)) if diff.size else 0.0
        equal = float(np.mean(a == b)) if a.size else 1.0
        if a.size and np.array_equal(a, b):
            verdict = IDENTICAL
        elif largest <= tolerance:
            verdict = WITHIN
        else:
            verdict = DIFFERS
        return {
            "verdict": verdict,
            "rows": int(a.size),
            "max": largest,
            "equal": equal,
            "source": source,
        }

    def _load_run_model(self, run_id: str, artifact_path: str, folder: Path) -> LoadedModel:
        prefix = artifact_path.strip("/") + "/"
        for item in self.tracking.list_artifacts(run_id):
            if item["path"].startswith(prefix):
                self.tracking.stores.artifacts.fetch(
                    item["digest"], folder / item["path"][len(prefix) :]
                )
        return load_model(folder)

    def _data_for(self, run: RunRecord, model: LoadedModel) -> tuple[pd.DataFrame, str]:
        """Rows to compare on: the original run's first input that holds the model's input
        columns; else probe rows recombined from the model's input example (a model whose
        inputs are derived in code has no dataset with those columns)."""
        wanted = [c.name for c in model.signature.inputs] if model.signature else None
        for item in run.inputs:
            version = self.datasets.get(str(item["id"]))
            if wanted is None or set(wanted) <= set(version.columns):
                frame = self.datasets.load(version)
                return (frame[wanted] if wanted else frame), version.uri
        example = model.manifest.input_example
        if not example:
            raise NotFoundError(
                f"none of run {run.id}'s input datasets holds the model's input columns "
                f"{wanted}, and the model has no input example; nothing to compare on"
            )
        rows = pd.DataFrame(example)
        rng = np.random.default_rng(0)
        probes = pd.DataFrame({c: rng.choice(rows[c].to_numpy(), PROBE_ROWS) for c in rows.columns})
        described = (
            f"{len(rows) + PROBE_ROWS:,} probe rows recombined from the input example "
            "(no input dataset holds the model's input columns)"
        )
        return pd.concat([rows, probes], ignore_index=True), described

    def _result(
        self,
        plan: dict[str, Any],
        new_run: RunRecord | None,
        returncode: int,
        comparison: dict[str, Any] | None,
        started: float,
        tail: str,
        notes: list[str],
        tolerance: float = 0.0,
    ) -> Reproduction:
        return Reproduction(
            version=plan["version"].uri,
            original_run=plan["run"].id,
            new_run=None if new_run is None else new_run.id,
            commit=plan["run"].git_commit,
            command=list(plan["command"]),
            datasets=list(plan["datasets"]),
            returncode=returncode,
            verdict=None if comparison is None else comparison["verdict"],
            rows=0 if comparison is None else comparison["rows"],
            max_abs_diff=None if comparison is None else comparison["max"],
            equal_share=None if comparison is None else comparison["equal"],
            compared_on=None if comparison is None else comparison["source"],
            tolerance=tolerance,
            seconds=time.time() - started,
            output_tail=tail,
            notes=notes,
        )


def _git(cwd: Path, args: list[str], *, check: bool = True) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise ValidationError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
