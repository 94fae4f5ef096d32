"""shipment.answered_at: when the carrier last answered about the parcel (poll or push)

Subscribing used to count as having asked, so carrier-side rules judged a subscribed parcel
on its imported state before the carrier had said anything. Backfilled from what is known:
the last polled or pushed event received, else the last poll of a parcel that was never
subscribed (a subscription set `last_polled_at` too, so it proves nothing).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipment") as batch_op:
        batch_op.add_column(
            sa.Column("answered_at", monitor.store.types.UTCDateTime(), nullable=True)
        )
    op.execute(
        """
        UPDATE shipment SET answered_at = COALESCE(
            (SELECT MAX(e.received_at) FROM tracking_event e
             WHERE e.shipment_id = shipment.id AND e.source IN ('poll', 'push')),
            CASE WHEN subscribed_at IS NULL THEN last_polled_at END
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("shipment") as batch_op:
        batch_op.drop_column("answered_at")
