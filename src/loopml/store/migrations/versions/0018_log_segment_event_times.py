"""the span of event times each prediction-log segment holds

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Monitors that cut windows on event time pick segments by these; older segments hold
    # no event times, so their arrival span (min_time, max_time) stands in while null.
    with op.batch_alter_table("log_segments") as batch:
        batch.add_column(sa.Column("min_event_time", sa.Float(), nullable=True))
        batch.add_column(sa.Column("max_event_time", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_segments") as batch:
        batch.drop_column("max_event_time")
        batch.drop_column("min_event_time")
