"""params, tags and latest_metrics become WITHOUT ROWID tables on SQLite

Each row is found by its (run_id, key): a search's filter looks up every candidate run
this way. As rowid tables that took two B-tree searches, the (run_id, key) index and then
the table; as the key's own B-tree it takes one, and the entries of latest_metrics' other
indexes carry (run_id, key) instead of a rowid, so a walk of the (experiment, key, value)
index needs no visit to the table for the run id. PostgreSQL has no such choice: nothing
changes there.

SQLite cannot change this on an existing table: each is created anew under a temporary
name, filled in key order (one sequential pass, pages packed full), the old one dropped and
the new one renamed, then its indexes made again.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_REBUILT = "{}_rebuilt"


def _columns(name: str) -> list[sa.Column[Any]]:
    keyed: list[sa.Column[Any]] = [
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
    ]
    if name != "latest_metrics":
        return [*keyed, sa.Column("value", sa.Text(), nullable=False)]
    return [
        *keyed,
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("experiment_id", sa.String(length=40), nullable=False),
    ]


_INDEXES = {
    "latest_metrics": [
        ("ix_latest_metrics_key_value", ["key", "value"]),
        ("ix_latest_metrics_experiment_key_value", ["experiment_id", "key", "value"]),
    ]
}


def _rebuild(name: str, with_rowid: bool) -> None:
    columns = _columns(name)
    rebuilt = _REBUILT.format(name)
    op.create_table(
        rebuilt,
        *columns,
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=f"fk_{name}_run_id_runs"),
        sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{name}"),
        sqlite_with_rowid=with_rowid,
    )
    listed = ", ".join(f'"{column.name}"' for column in columns)
    op.execute(f"INSERT INTO {rebuilt} ({listed}) SELECT {listed} FROM {name} ORDER BY run_id, key")
    op.execute(f"DROP TABLE {name}")
    op.execute(f"ALTER TABLE {rebuilt} RENAME TO {name}")
    for index, indexed in _INDEXES.get(name, []):
        op.create_index(index, name, indexed)
    if sa.inspect(op.get_bind()).has_table("sqlite_stat1"):
        # a store that had statistics (an ANALYZE ran) keeps them for the new table, or
        # the planner would guess for a table of millions of rows
        op.execute(f"ANALYZE {name}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("params", "tags", "latest_metrics"):
            _rebuild(name, with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("params", "tags", "latest_metrics"):
            _rebuild(name, with_rowid=True)
