"""An MLflow store read straight from its database (SQLite or PostgreSQL) with SQLAlchemy,
and its artifacts from the artifact root: no `mlflow` package needed.

Runs are read in keyset pages and metric histories in pages, so memory stays bounded
whatever the store's size.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, text

from loopml.errors import ValidationError
from loopml.imports.mlflow.locations import candidates, locate, run_relative
from loopml.imports.mlflow.records import (
    ArtifactsMissing,
    SourceArtifact,
    SourceExperiment,
    SourceMetric,
    SourceModel,
    SourceRun,
    SourceVersion,
)

RUN_PAGE = 500
METRIC_PAGE = 10_000
NEEDED_TABLES = {"experiments", "runs", "params", "tags", "metrics"}


class SqlSource:
    """The tables MLflow's SQL store writes (experiments, runs, params, tags, metrics,
    registered_models, model_versions, registered_model_aliases)."""

    def __init__(self, url: str, artifact_root: Path, label: str) -> None:
        self.label = label
        self.root = artifact_root
        self.engine: Engine = create_engine(url)
        tables = set(inspect(self.engine).get_table_names())
        missing = NEEDED_TABLES - tables
        if missing:
            self.engine.dispose()
            raise ValidationError(
                f"{label} is not an MLflow tracking database (no table "
                f"{', '.join(sorted(missing))}); pass the database MLflow's "
                "--backend-store-uri names"
            )
        self.has_registry = {"registered_models", "model_versions"} <= tables
        self.has_aliases = "registered_model_aliases" in tables

    def _rows(self, sql: str, **values: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), values))

    def experiments(self) -> Iterator[SourceExperiment]:
        for row in self._rows(
            "SELECT experiment_id, name FROM experiments "
            "WHERE lifecycle_stage = 'active' ORDER BY experiment_id"
        ):
            tags = dict(
                self._rows(
                    'SELECT "key", value FROM experiment_tags WHERE experiment_id = :e',
                    e=row[0],
                )
            )
            yield SourceExperiment(str(row[0]), row[1], tags)

    def count_runs(self) -> int | None:
        return int(self._rows("SELECT COUNT(*) FROM runs")[0][0])

    def runs(self, experiment_id: str) -> Iterator[SourceRun]:
        after: tuple[int, str] = (-1, "")
        while True:
            page = self._rows(
                "SELECT run_uuid, name, status, start_time, end_time, lifecycle_stage, "
                "artifact_uri FROM runs WHERE experiment_id = :e AND "
                "(COALESCE(start_time, 0) > :t OR (COALESCE(start_time, 0) = :t "
                "AND run_uuid > :r)) ORDER BY COALESCE(start_time, 0), run_uuid LIMIT :n",
                e=int(experiment_id),
                t=after[0],
                r=after[1],
                n=RUN_PAGE,
            )
            for row in page:
                yield self._run(experiment_id, row)
            if len(page) < RUN_PAGE:
                return
            after = (page[-1][3] or 0, page[-1][0])

    def _run(self, experiment_id: str, row: Any) -> SourceRun:
        run_id = row[0]
        params = dict(self._rows('SELECT "key", value FROM params WHERE run_uuid = :r', r=run_id))
        tags = dict(self._rows('SELECT "key", value FROM tags WHERE run_uuid = :r', r=run_id))
        keys = tuple(
            r[0]
            for r in self._rows(
                'SELECT DISTINCT "key" FROM metrics WHERE run_uuid = :r ORDER BY 1', r=run_id
            )
        )
        return SourceRun(
            id=run_id,
            experiment_id=experiment_id,
            name=row[1] or tags.get("mlflow.runName") or run_id,
            status=row[2],
            start_time=row[3],
            end_time=row[4],
            deleted=row[5] == "deleted",
            artifact_uri=row[6] or "",
            params=params,
            tags=tags,
            metric_keys=keys,
        )

    def metric_history(self, run: SourceRun, key: str) -> Iterator[list[SourceMetric]]:
        offset = 0
        while True:
            page = self._rows(
                "SELECT value, step, timestamp, is_nan FROM metrics "
                'WHERE run_uuid = :r AND "key" = :k '
                "ORDER BY step, timestamp, value LIMIT :n OFFSET :o",
                r=run.id,
                k=key,
                n=METRIC_PAGE,
                o=offset,
            )
            yield [
                SourceMetric(float("nan") if r[3] else float(r[0]), int(r[1]), int(r[2]))
                for r in page
            ]
            if len(page) < METRIC_PAGE:
                return
            offset += METRIC_PAGE

    def _folder(self, run: SourceRun) -> Path:
        found = locate(run.artifact_uri, self.root, run.experiment_id, run.id)
        if found is None:
            tried = ", ".join(
                str(p) for p in candidates(run.artifact_uri, self.root, run.experiment_id, run.id)
            )
            raise ArtifactsMissing(f"its artifact folder is missing (looked at {tried})")
        return found

    def artifacts(self, run: SourceRun) -> Iterator[SourceArtifact]:
        """MLflow makes a run's folder with its first artifact: no folder, no artifacts."""
        if locate(run.artifact_uri, self.root, run.experiment_id, run.id) is None:
            return
        folder = self._folder(run)
        for path in sorted(folder.rglob("*")):
            if path.is_dir():
                continue  # a dangling link is listed too, and reported when it is read
            yield SourceArtifact(path.relative_to(folder).as_posix(), path)

    def download(self, run: SourceRun, artifact: SourceArtifact, target: Path) -> Path:
        if artifact.local is None or not artifact.local.is_file():
            raise ArtifactsMissing(f"{artifact.path} is not a readable file")
        shutil.copyfile(artifact.local, target)
        return target

    def models(self) -> Iterator[SourceModel]:
        if not self.has_registry:
            return
        for name, description in self._rows(
            "SELECT name, description FROM registered_models ORDER BY name"
        ):
            aliases: dict[str, int] = {}
            if self.has_aliases:
                aliases = dict(
                    self._rows(
                        "SELECT alias, version FROM registered_model_aliases WHERE name = :n",
                        n=name,
                    )
                )
            yield SourceModel(name, description or "", aliases)

    def versions(self, model: str) -> Iterator[SourceVersion]:
        columns = {c["name"] for c in inspect(self.engine).get_columns("model_versions")}
        where = "name = :n"
        if "current_stage" in columns:
            where += " AND current_stage <> 'Deleted_Internal'"
        for row in self._rows(
            f"SELECT version, run_id, source, description FROM model_versions WHERE {where} "
            "ORDER BY version",
            n=model,
        ):
            yield SourceVersion(model, int(row[0]), row[1] or None, row[2] or "", row[3] or "")

    def model_files(self, version: SourceVersion, run: SourceRun) -> tuple[str | None, Path | None]:
        """Where a version's files are: a path inside its run's artifacts, or else a folder
        to copy (MLflow 3 keeps a logged model's files outside the run: `models:/m-…`)."""
        source = version.source
        inner = run_relative(source, run)
        if inner is not None:
            return inner, None
        folder: Path | None
        if source.startswith("models:/m-"):
            rows = self._rows(
                "SELECT artifact_location, experiment_id FROM logged_models WHERE model_id = :m",
                m=source.removeprefix("models:/"),
            )
            folder = locate(rows[0][0], self.root, str(rows[0][1]), None) if rows else None
        else:
            folder = locate(source, self.root, run.experiment_id, None)
        if folder is None:
            return None, None
        try:
            return folder.relative_to(self._folder(run)).as_posix(), None
        except (ValueError, ArtifactsMissing):
            return None, folder

    def close(self) -> None:
        self.engine.dispose()
