"""triggers and the controller's queue of trigger events

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("cooldown_s", sa.Float(), nullable=False),
        sa.Column("rollout", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.Float(), nullable=False),
        sa.Column("last_fired_at", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_triggers")),
    )
    op.create_table(
        "trigger_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("trigger_name", sa.String(length=250), nullable=False),
        sa.Column("cause", sa.String(length=250), nullable=False),
        sa.Column("cause_info", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=250), nullable=True),
        sa.Column("lease_expires_at", sa.Float(), nullable=True),
        sa.Column("pipeline_run_id", sa.String(length=250), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rollout_state", sa.String(length=16), nullable=True),
        sa.Column("rollout", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trigger_name"],
            ["triggers.name"],
            name=op.f("fk_trigger_events_trigger_name_triggers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_events")),
        sa.UniqueConstraint("trigger_name", "cause", name=op.f("uq_trigger_events_trigger_name")),
    )
    op.create_index("ix_trigger_events_state", "trigger_events", ["state"], unique=False)
    op.create_index(
        "ix_trigger_events_rollout_state", "trigger_events", ["rollout_state"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_trigger_events_rollout_state", table_name="trigger_events")
    op.drop_index("ix_trigger_events_state", table_name="trigger_events")
    op.drop_table("trigger_events")
    op.drop_table("triggers")
