"""pipeline step cache

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_cache",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("step", sa.String(length=250), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_step_cache_run_id_runs")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_step_cache")),
    )
    op.create_index("ix_step_cache_pipeline_step", "step_cache", ["pipeline", "step"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_step_cache_pipeline_step", table_name="step_cache")
    op.drop_table("step_cache")
