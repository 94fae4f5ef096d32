"""maintenance_window (windows made through the API) and alert.shop (silences by shop)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_window",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("window", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_maintenance_window_ended_at", "maintenance_window", ["ended_at"])
    with op.batch_alter_table("alert") as batch_op:
        batch_op.add_column(sa.Column("shop", sa.String(), nullable=True))
    # Open alerts learn their shop from their order or parcel.
    op.execute(
        "UPDATE alert SET shop = (SELECT o.shop FROM sales_order o "
        "WHERE o.id = alert.sales_order_id) WHERE sales_order_id IS NOT NULL"
    )
    op.execute(
        "UPDATE alert SET shop = (SELECT s.shop FROM shipment s WHERE s.id = alert.shipment_id) "
        "WHERE shipment_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch_op:
        batch_op.drop_column("shop")
    op.drop_index("ix_maintenance_window_ended_at", table_name="maintenance_window")
    op.drop_table("maintenance_window")
