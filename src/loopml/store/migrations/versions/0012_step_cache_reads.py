"""the dataset references a cached step resolved while it ran

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_cache") as batch:
        batch.add_column(sa.Column("reads", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("step_cache") as batch:
        batch.drop_column("reads")
