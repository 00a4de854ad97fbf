"""The import: experiments, then their runs (oldest first), then the registry.

Idempotent through the id mapping (mapping.py): what an earlier import of the same source
copied is counted as already copied and left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from loopml.errors import LoopmlError
from loopml.imports.mlflow.mapping import IdMapping
from loopml.imports.mlflow.models import ModelCopier
from loopml.imports.mlflow.records import MlflowSource, SourceExperiment
from loopml.imports.mlflow.runs import RunCopier, loopml_name
from loopml.imports.mlflow.summary import ImportSummary
from loopml.registry.service import RegistryService
from loopml.tracking.service import TrackingService

#: Called after each run with (runs done, runs in total or None when unknown).
Progress = Callable[[int, int | None], None]


class MlflowImporter:
    """Copies one MLflow source into loopml's tracking and registry services."""

    def __init__(
        self, tracking: TrackingService, registry: RegistryService, source: MlflowSource
    ) -> None:
        self.tracking = tracking
        self.registry = registry
        self.source = source

    def run(self, progress: Progress | None = None) -> ImportSummary:
        summary = ImportSummary(self.source.label)
        engine = self.tracking.engine
        runs = IdMapping(engine, self.source.label, "run")
        experiments = IdMapping(engine, self.source.label, "experiment")
        copier = RunCopier(self.tracking, self.source, summary, runs)
        models = ModelCopier(
            self.tracking,
            self.registry,
            self.source,
            summary,
            runs,
            IdMapping(engine, self.source.label, "model version"),
        )
        total, done = self.source.count_runs(), 0
        for experiment in self.source.experiments():
            name = self._experiment(experiment, experiments, summary)
            if name is None:
                continue
            for run in self.source.runs(experiment.id):
                models.source_runs[run.id] = run
                copier.copy(run, name)
                done += 1
                if progress is not None:
                    progress(done, total)
        for model in self.source.models():
            models.copy(model)
        return summary

    def _experiment(
        self, experiment: SourceExperiment, mapping: IdMapping, summary: ImportSummary
    ) -> str | None:
        """The loopml name of the experiment (created, with its tags, when new)."""
        try:
            name = loopml_name(experiment.name)
            if experiment.id in mapping:
                summary.already["experiments"] += 1
                return name
            found = self.tracking.experiment_id(name)
            tags = {k: v for k, v in experiment.tags.items() if not k.startswith("mlflow.")}
            self.tracking.set_experiment_tags(found, tags)
        except LoopmlError as exc:
            summary.problem("experiment", experiment.id, str(exc))
            return None
        if name != experiment.name:
            summary.problem("experiment", experiment.id, f"renamed {experiment.name!r} to {name!r}")
        mapping.remember(experiment.id, found)
        summary.copied["experiments"] += 1
        return name
