"""The metadata store: one relational database (SQLite or PostgreSQL) for every object."""

from loopml.store.artifact_rows import record_artifact
from loopml.store.engine import create_store_engine, dialect_insert
from loopml.store.ids import new_id, resolve_prefix, short_id
from loopml.store.migrate import upgrade_to_head
from loopml.store.schema import metadata
from loopml.store.stores import Stores, open_stores

__all__ = [
    "Stores",
    "create_store_engine",
    "dialect_insert",
    "metadata",
    "new_id",
    "open_stores",
    "record_artifact",
    "resolve_prefix",
    "short_id",
    "upgrade_to_head",
]
