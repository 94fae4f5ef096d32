"""outbox delivery: one row per (outbox message, sink), for fan-out, retries and failures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 04:21:24.980040
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("sink", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("next_attempt_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox_delivery", schema=None) as batch_op:
        batch_op.create_index("uq_outbox_delivery_outbox_sink", ["outbox_id", "sink"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("outbox_delivery", schema=None) as batch_op:
        batch_op.drop_index("uq_outbox_delivery_outbox_sink")

    op.drop_table("outbox_delivery")
