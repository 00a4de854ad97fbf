"""The metadata store: one relational database (SQLite or PostgreSQL) for every object."""

from loopml.store.engine import create_store_engine, dialect_insert
from loopml.store.migrate import upgrade_to_head
from loopml.store.records import new_id, record_artifact
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
    "upgrade_to_head",
]
