"""triggers remember the role of their creator

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_role", sa.String(length=16), nullable=True))
    # A trigger made before the role was recorded: its creator's role now, else admin (the
    # local user, or a principal that is gone), so only someone as strong may remove it.
    op.execute(
        "UPDATE triggers SET created_role = COALESCE("
        "(SELECT principals.role FROM principals WHERE principals.name = triggers.created_by), "
        "'admin')"
    )
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.alter_column("created_role", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.drop_column("created_role")
