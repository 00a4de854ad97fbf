"""feature store: definitions, materialization runs, source facts, training sets

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "version", name=op.f("pk_feature_definitions")),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("view", sa.String(length=250), nullable=False),
        sa.Column("view_version", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("source_key", sa.String(length=300), nullable=False),
        sa.Column("online_store", sa.String(length=250), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("entities", sa.BigInteger(), nullable=False),
        sa.Column("watermark", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_materializations")),
    )
    op.create_index(
        "ix_feature_materializations_view_started",
        "feature_materializations",
        ["view", "started_at"],
    )
    op.create_table(
        "feature_source_facts",
        sa.Column("source_key", sa.String(length=300), nullable=False),
        sa.Column("keys", sa.String(length=1000), nullable=False),
        sa.Column("unique_keys", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source_key", "keys", name=op.f("pk_feature_source_facts")),
    )
    op.create_table(
        "feature_training_sets",
        sa.Column("dataset_version_id", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=250), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("views", sa.JSON(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_feature_training_sets_dataset_version_id_dataset_versions"),
        ),
        sa.PrimaryKeyConstraint("dataset_version_id", name=op.f("pk_feature_training_sets")),
    )


def downgrade() -> None:
    op.drop_table("feature_training_sets")
    op.drop_table("feature_source_facts")
    op.drop_index("ix_feature_materializations_view_started", "feature_materializations")
    op.drop_table("feature_materializations")
    op.drop_table("feature_definitions")
