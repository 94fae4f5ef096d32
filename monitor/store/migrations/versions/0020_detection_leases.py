"""Detection claims for replicas on PostgreSQL (docs/architecture.md "Detection across
replicas")

`detect_owner` and `detect_lease_until` on `shipment` and `sales_order`: a replica claims a
batch of due rows by writing its name and a lease end, judges them, and in the transaction
that applies its alert changes clears the name and writes the moment it settled them in
place of the lease end (so that the same tick does not claim them again). A replica that
dies mid-batch leaves the claim to lapse; once the lease has run out another replica claims
the rows again. Both columns are
nullable without a default, so adding them is O(1) on both backends; SQLite (one process)
never writes them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.types import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLES = ("shipment", "sales_order")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("detect_owner", sa.String(), nullable=True))
        op.add_column(table, sa.Column("detect_lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("detect_lease_until")
            batch_op.drop_column("detect_owner")
