"""Copying one MLflow run: params, tags, every metric point, artifacts, status and times.

The run is written while RUNNING and ended last, and its id mapping is recorded only then:
an import stopped half-way leaves a partial run that the next import does not count as
copied (it copies the run again; the partial one stays visible, named as the source run).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from loopml.errors import LoopmlError
from loopml.imports.mlflow.mapping import IdMapping
from loopml.imports.mlflow.records import ArtifactsMissing, MlflowSource, SourceRun
from loopml.imports.mlflow.summary import ImportSummary
from loopml.tracking.service import TrackingService
from loopml.validation import check_name

PARENT_TAG = "mlflow.parentRunId"
SOURCE_TAG = "mlflow.import.sourceRunId"
ENDED = ("FINISHED", "FAILED", "KILLED")
POINTS_PER_WRITE = 5_000


def loopml_name(name: str) -> str:
    """An MLflow name in loopml's name rule (spaces and other characters become `-`)."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in name.strip())[:128]
    cleaned = cleaned.strip("-") or "unnamed"
    check_name("run", cleaned)
    return cleaned


class RunCopier:
    """Copies runs of one source into loopml's tracking service."""

    def __init__(
        self,
        tracking: TrackingService,
        source: MlflowSource,
        summary: ImportSummary,
        runs: IdMapping,
    ) -> None:
        self.tracking = tracking
        self.source = source
        self.summary = summary
        self.mapping = runs

    def copy(self, run: SourceRun, experiment: str) -> str | None:
        """The loopml id of `run`, copied now unless it was copied before."""
        known = self.mapping.get(run.id)
        if known is not None:
            self.summary.already["runs"] += 1
            return known
        tags = dict(run.tags)
        parent = self.mapping.get(tags.get(PARENT_TAG, ""))
        if parent is not None:
            tags[PARENT_TAG] = parent
        else:
            tags.pop(PARENT_TAG, None)  # its parent is not in loopml (yet): no dangling id
        tags[SOURCE_TAG] = run.id
        try:
            name = loopml_name(run.name)
        except LoopmlError as exc:
            self.summary.problem("run", run.id, str(exc))
            return None
        tags["mlflow.runName"] = name
        run_id = self.tracking.create_run(
            experiment, name, parent_id=parent, tags_=tags, capture=False, local_process=False
        )
        try:
            if run.params:
                self.tracking.log_params(run_id, run.params)
            for key in run.metric_keys:
                self._metric(run, run_id, key)
            self._artifacts(run, run_id)
            self._finish(run, run_id)
        except LoopmlError as exc:  # e.g. a key loopml's rules refuse: hide the partial copy
            self.summary.problem("run", run.id, str(exc))
            self.tracking.delete_run(run_id)
            return None
        self.mapping.remember(run.id, run_id)
        self.summary.copied["runs"] += 1
        return run_id

    def _metric(self, run: SourceRun, run_id: str, key: str) -> None:
        skipped = 0
        for page in self.source.metric_history(run, key):
            points = []
            for m in page:
                if not math.isfinite(m.value):
                    skipped += 1
                    continue
                points.append((key, m.value, max(m.step, 0), m.timestamp / 1000.0))
            for start in range(0, len(points), POINTS_PER_WRITE):
                self.tracking.log_batch(run_id, points[start : start + POINTS_PER_WRITE], {}, {})
            self.summary.copied["metric points"] += len(points)
        if skipped:
            self.summary.problem(
                "metric",
                f"{run.id}/{key}",
                f"{skipped} points are NaN or infinite, which loopml does not store",
            )

    def _artifacts(self, run: SourceRun, run_id: str) -> None:
        try:
            files = list(self.source.artifacts(run))
        except ArtifactsMissing as exc:
            self.summary.problem("artifact", run.id, str(exc))
            return
        with tempfile.TemporaryDirectory(prefix="loopml-import-") as scratch:
            for artifact in files:
                target = Path(scratch) / "file"
                try:
                    self.source.download(run, artifact, target)
                    self.tracking.log_artifact(run_id, target, artifact.path)
                except (ArtifactsMissing, OSError, LoopmlError) as exc:
                    self.summary.problem("artifact", f"{run.id}/{artifact.path}", str(exc))
                    continue
                finally:
                    target.unlink(missing_ok=True)
                self.summary.copied["artifacts"] += 1

    def _finish(self, run: SourceRun, run_id: str) -> None:
        status = run.status if run.status in ENDED else None
        if status is not None:
            self.tracking.end_run(run_id, status)
        if run.start_time is not None:
            end = run.end_time / 1000.0 if run.end_time is not None and status else None
            self.tracking.set_run_times(run_id, run.start_time / 1000.0, end)
        if run.deleted:
            self.tracking.delete_run(run_id)
