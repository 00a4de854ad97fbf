"""indexes that keep run search pages flat as the runs grow

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Pages of runs across experiments walk the runs newest first and stop after a page.
    op.create_index("ix_runs_start_id", "runs", ["start_time", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_start_id", table_name="runs")
