"""polling and carrier health

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:31:20.071060
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carrier_health",
        sa.Column("carrier", sa.String(), nullable=False),
        sa.Column("last_success_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("failing_since", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("updated_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("carrier"),
    )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("next_poll_at", monitor.store.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("poll_lease_until", monitor.store.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_polled_at", monitor.store.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("poll_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("subscribed_at", monitor.store.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("tracking_stopped_at", monitor.store.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_shipment_next_poll_at"), ["next_poll_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_next_poll_at"))
        batch_op.drop_column("tracking_stopped_at")
        batch_op.drop_column("subscribed_at")
        batch_op.drop_column("poll_failures")
        batch_op.drop_column("last_polled_at")
        batch_op.drop_column("poll_lease_until")
        batch_op.drop_column("next_poll_at")
        batch_op.drop_column("phone")

    op.drop_table("carrier_health")
