"""The opened foundation: settings, the metadata engine and the artifact store together."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from loopml.artifacts import ArtifactStore, open_artifact_store
from loopml.config import Settings
from loopml.store.engine import create_store_engine
from loopml.store.migrate import upgrade_to_head
from loopml.store.principal import Principal


@dataclass
class Stores:
    """What every domain service is built on."""

    settings: Settings
    engine: Engine
    artifacts: ArtifactStore
    actor: Principal = field(default_factory=lambda: Principal("local", "admin"))

    @property
    def journal_dir(self) -> Path:
        return self.settings.local_path(self.settings.journal_dir)

    def close(self) -> None:
        self.engine.dispose()


def open_stores(settings: Settings) -> Stores:
    """Connect to the configured stores and bring the schema up to date."""
    engine = create_store_engine(settings.resolved_store_url())
    upgrade_to_head(engine)
    artifacts = open_artifact_store(
        settings.resolved_artifacts_url(),
        settings.local_path(settings.cache_dir),
        endpoint_url=settings.s3_endpoint_url,
        fsync=settings.artifacts_fsync,
    )
    return Stores(
        settings=settings,
        engine=engine,
        artifacts=artifacts,
        actor=Principal(settings.user, "admin"),
    )
