"""deleted runs (soft delete), experiment tags, and the id mapping of imported stores

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("deleted_at", sa.Float(), nullable=True))
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_tags_experiment_id_experiments"),
        ),
        sa.PrimaryKeyConstraint("experiment_id", "key", name=op.f("pk_experiment_tags")),
    )
    op.create_table(
        "import_mappings",
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=250), nullable=False),
        sa.Column("target_id", sa.String(length=250), nullable=False),
        sa.Column("imported_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source", "kind", "source_id", name=op.f("pk_import_mappings")),
    )


def downgrade() -> None:
    op.drop_table("import_mappings")
    op.drop_table("experiment_tags")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_at")
