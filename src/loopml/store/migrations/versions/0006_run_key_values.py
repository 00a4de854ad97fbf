"""runs keep their params, latest metrics and tags as one JSON document, for searches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:40:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_values", sa.Text(), nullable=True))
    # Fill it for every existing run, as tracking/key_values.py writes it (the same JSON; a
    # migration keeps its own copy of the format rather than import the application).
    conn = op.get_bind()
    docs: dict[str, dict[str, dict[str, Any]]] = {
        run_id: {} for (run_id,) in conn.execute(sa.text("SELECT id FROM runs"))
    }
    for section, table in (("params", "params"), ("metrics", "latest_metrics"), ("tags", "tags")):
        rows = conn.execute(sa.text(f'SELECT run_id, "key", value FROM {table}'))
        for run_id, key, value in sorted(rows, key=lambda r: (r[0], r[1])):
            docs[run_id].setdefault(section, {})[key] = value
    if docs:
        conn.execute(
            sa.text("UPDATE runs SET key_values = :doc WHERE id = :run_id"),
            [
                {"run_id": run_id, "doc": json.dumps(doc, separators=(",", ":"))}
                for run_id, doc in docs.items()
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("key_values")
