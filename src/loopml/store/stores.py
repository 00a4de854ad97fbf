"""The opened foundation: settings, the metadata engine and the artifact store together."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from loopml.artifacts import ArtifactStore, open_artifact_store
from loopml.config import Settings
from loopml.store.engine import create_store_engine
from loopml.store.migrate import upgrade_to_head
from loopml.store.principal import ActorSource, FixedActor, Principal, local_principal
from loopml.store.seal import AuditSeal, attach_seal
from loopml.store.write_connection import WriteConnection


@dataclass
class Stores:
    """What every domain service is built on.

    `identity` says who acts; services read `actor` on every call, so a token-backed
    identity can refuse a token revoked or expired since the client logged in.
    """

    settings: Settings
    engine: Engine
    artifacts: ArtifactStore
    seal: AuditSeal
    identity: ActorSource = field(default_factory=lambda: FixedActor(local_principal()))
    writes: WriteConnection = field(init=False)

    def __post_init__(self) -> None:
        self.writes = WriteConnection(self.engine)

    @property
    def actor(self) -> Principal:
        return self.identity.current()

    @property
    def journal_dir(self) -> Path:
        return self.settings.local_path(self.settings.journal_dir)

    def close(self) -> None:
        self.writes.close()
        self.seal.close()
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
    seal = AuditSeal(
        engine,
        settings.local_path(settings.audit_key_file),
        settings.local_path(settings.audit_anchor_file),
        settings.audit_key,
    )
    attach_seal(engine, seal)
    return Stores(
        settings=settings,
        engine=engine,
        artifacts=artifacts,
        seal=seal,
        identity=FixedActor(local_principal(settings.require_tokens)),
    )
