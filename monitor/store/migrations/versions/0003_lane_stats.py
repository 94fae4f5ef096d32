"""lane stats

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:08:09.695790
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lane_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=True),
        sa.Column("province", sa.String(), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("picked_up", sa.Integer(), nullable=False),
        sa.Column("transit_p50_hours", sa.Float(), nullable=True),
        sa.Column("transit_p90_hours", sa.Float(), nullable=True),
        sa.Column("on_time_ratio", sa.Float(), nullable=True),
        sa.Column("loss_ratio", sa.Float(), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("computed_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lane_stats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lane_stats_carrier"), ["carrier"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lane_stats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lane_stats_carrier"))

    op.drop_table("lane_stats")
