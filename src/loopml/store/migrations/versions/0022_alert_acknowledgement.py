"""who acknowledged an open alert, and when

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("acknowledged_by", sa.String(length=250), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("acknowledged_at")
        batch.drop_column("acknowledged_by")
