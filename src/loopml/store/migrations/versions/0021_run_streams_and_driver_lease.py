"""metric streams of remote clients (deduplicated by journal offset); the controller's
driver lease

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_streams",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_streams_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "stream_id", name=op.f("pk_run_streams")),
    )

    op.create_table(
        "driver_leases",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("owner", sa.String(length=250), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_driver_leases")),
    )


def downgrade() -> None:
    op.drop_table("driver_leases")
    op.drop_table("run_streams")
