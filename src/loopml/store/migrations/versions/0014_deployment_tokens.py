"""data-plane tokens scoped to one deployment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=250), nullable=True),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment"],
            ["deployments.name"],
            name=op.f("fk_deployment_tokens_deployment_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_deployment_tokens_token_hash")),
    )
    op.create_index(
        "ix_deployment_tokens_deployment", "deployment_tokens", ["deployment"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_tokens_deployment", table_name="deployment_tokens")
    op.drop_table("deployment_tokens")
