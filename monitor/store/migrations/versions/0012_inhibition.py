"""alert.inhibited_by: the open carrier incident holding a member parcel's notifications

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch_op:
        batch_op.add_column(sa.Column("inhibited_by", sa.Integer(), nullable=True))
    op.create_index("ix_alert_inhibited_by", "alert", ["inhibited_by"],
                    sqlite_where=sa.text("inhibited_by IS NOT NULL"),
                    postgresql_where=sa.text("inhibited_by IS NOT NULL"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_alert_inhibited_by", table_name="alert")
    with op.batch_alter_table("alert") as batch_op:
        batch_op.drop_column("inhibited_by")
