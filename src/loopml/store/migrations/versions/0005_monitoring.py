"""monitors, their per-window results and alerts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("reference", sa.String(length=250), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.Float(), nullable=True),
        sa.Column("next_run_at", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitors")),
    )
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("monitor", sa.String(length=250), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=True),
        sa.Column("window_end", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=250), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dataset_drift", sa.Boolean(), nullable=True),
        sa.Column("drift_share", sa.Float(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor"], ["monitors.name"], name=op.f("fk_monitor_results_monitor_monitors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_results")),
        sa.UniqueConstraint("monitor", "seq", name=op.f("uq_monitor_results_monitor")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("monitor", sa.String(length=250), nullable=False),
        sa.Column("rule", sa.String(length=250), nullable=False),
        sa.Column("subject", sa.String(length=250), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=502), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("first_result", sa.String(length=40), nullable=False),
        sa.Column("last_result", sa.String(length=40), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor"], ["monitors.name"], name=op.f("fk_alerts_monitor_monitors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alerts_open_key")),
    )
    op.create_index("ix_alerts_monitor_state", "alerts", ["monitor", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_monitor_state", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("monitor_results")
    op.drop_table("monitors")
