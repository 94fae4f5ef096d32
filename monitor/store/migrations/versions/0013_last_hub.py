"""shipment.last_hub: the last hub or outlet a parcel's scans named, for hub incidents

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipment") as batch_op:
        batch_op.add_column(sa.Column("last_hub", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipment") as batch_op:
        batch_op.drop_column("last_hub")
