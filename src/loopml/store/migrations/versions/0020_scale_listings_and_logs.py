"""listings page through indexes; metric snapshots; prediction-log compaction bookkeeping

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

SEGMENT_PREFIX = "lseg-"


def upgrade() -> None:
    op.create_index("ix_approval_requests_created_at_id", "approval_requests", ["created_at", "id"])
    op.create_index(
        "ix_approval_requests_model_created_at_id",
        "approval_requests",
        ["model", "created_at", "id"],
    )
    op.create_index("ix_alerts_opened_at_id", "alerts", ["opened_at", "id"])
    op.create_index("ix_alerts_monitor_opened_at_id", "alerts", ["monitor", "opened_at", "id"])
    op.create_index(
        "ix_log_segments_deployment_kind_min_time",
        "log_segments",
        ["deployment", "kind", "min_time"],
    )
    op.create_index("ix_log_segments_digest", "log_segments", ["digest"])
    op.create_table(
        "metric_snapshots",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["digest"],
            ["artifacts.digest"],
            name=op.f("fk_metric_snapshots_digest_artifacts"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_metric_snapshots_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_metric_snapshots")),
    )
    journals = op.create_table(
        "log_journals",
        sa.Column("journal_id", sa.String(length=64), nullable=False),
        sa.Column("committed_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("journal_id", name=op.f("pk_log_journals")),
    )
    op.create_table(
        "log_retired_blobs",
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("retired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_log_retired_blobs")),
    )
    # Journal progress was read from the segment ids (lseg-<journal>-<offset, hex>-<n>).
    conn = op.get_bind()
    found: dict[str, int] = {}
    ids = conn.execute(
        sa.text("SELECT id FROM log_segments WHERE id LIKE :p"), {"p": SEGMENT_PREFIX + "%"}
    ).scalars()
    for segment_id in ids:
        parts = str(segment_id).split("-")
        if len(parts) == 4:
            offset = int(parts[2], 16)
            found[parts[1]] = max(found.get(parts[1], 0), offset)
    if found:
        now = time.time()
        op.bulk_insert(
            journals,
            [{"journal_id": j, "committed_offset": o, "updated_at": now} for j, o in found.items()],
        )


def downgrade() -> None:
    op.drop_table("log_retired_blobs")
    op.drop_table("log_journals")
    op.drop_table("metric_snapshots")
    op.drop_index("ix_log_segments_digest", table_name="log_segments")
    op.drop_index("ix_log_segments_deployment_kind_min_time", table_name="log_segments")
    op.drop_index("ix_alerts_monitor_opened_at_id", table_name="alerts")
    op.drop_index("ix_alerts_opened_at_id", table_name="alerts")
    op.drop_index("ix_approval_requests_model_created_at_id", table_name="approval_requests")
    op.drop_index("ix_approval_requests_created_at_id", table_name="approval_requests")
