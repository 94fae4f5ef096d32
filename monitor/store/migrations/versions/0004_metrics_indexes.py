"""metrics indexes: partial covering indexes for the /metrics counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 04:15:45.311535
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_open_breakdown",
            ["kind", "severity", "carrier", "warehouse", "state"],
            unique=False,
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )
        batch_op.create_index(
            "ix_alert_open_province",
            ["kind", "province", "carrier", "state"],
            unique=False,
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )

    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipment_active_carrier_status",
            ["carrier", "status"],
            unique=False,
            sqlite_where=sa.text("status NOT IN ('delivered', 'returned')"),
            postgresql_where=sa.text("status NOT IN ('delivered', 'returned')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_shipment_active_carrier_status",
            sqlite_where=sa.text("status NOT IN ('delivered', 'returned')"),
            postgresql_where=sa.text("status NOT IN ('delivered', 'returned')"),
        )

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_alert_open_province",
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )
        batch_op.drop_index(
            "ix_alert_open_breakdown",
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )
