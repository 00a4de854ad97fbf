"""pipelines the controller may launch, registered by an admin and pinned to their code

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_pipelines",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("import_path", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("registered_by", sa.String(length=250), nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registered_pipelines")),
        sa.UniqueConstraint("import_path", name=op.f("uq_registered_pipelines_import_path")),
    )


def downgrade() -> None:
    op.drop_table("registered_pipelines")
