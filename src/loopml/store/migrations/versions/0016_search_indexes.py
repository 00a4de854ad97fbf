"""indexes that keep run search pages flat as the runs grow

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Pages of runs walk them newest first (ties by id) and stop after a page.
    op.drop_index("ix_runs_experiment_start", table_name="runs")
    op.create_index("ix_runs_experiment_start_id", "runs", ["experiment_id", "start_time", "id"])
    op.create_index("ix_runs_start_id", "runs", ["start_time", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_start_id", table_name="runs")
    op.drop_index("ix_runs_experiment_start_id", table_name="runs")
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
