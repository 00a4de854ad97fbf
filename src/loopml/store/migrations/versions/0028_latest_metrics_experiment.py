"""latest metric values carry their run's experiment, indexed with the key and the value

An ordered search of one experiment walked the (key, value) index of every experiment:
a small experiment ordered by a metric a big one also logs read the big one's entries
too. With the experiment in front of that index, the walk covers only its own runs.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("latest_metrics", sa.Column("experiment_id", sa.String(length=40), nullable=True))
    # Filled from each run, in one statement (a workspace may hold millions of these rows).
    op.execute(
        "UPDATE latest_metrics SET experiment_id ="
        " (SELECT runs.experiment_id FROM runs WHERE runs.id = latest_metrics.run_id)"
    )
    with op.batch_alter_table("latest_metrics") as batch:
        batch.alter_column("experiment_id", existing_type=sa.String(length=40), nullable=False)
    op.create_index(
        "ix_latest_metrics_experiment_key_value",
        "latest_metrics",
        ["experiment_id", "key", "value"],
    )
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" and sa.inspect(conn).has_table("sqlite_stat1"):
        # SQLite rebuilt the table and forgot its statistics: a store that had them (an
        # ANALYZE ran) gets them back, or the planner would guess for a million-row table
        op.execute("ANALYZE latest_metrics")


def downgrade() -> None:
    op.drop_index("ix_latest_metrics_experiment_key_value", table_name="latest_metrics")
    with op.batch_alter_table("latest_metrics") as batch:
        batch.drop_column("experiment_id")
