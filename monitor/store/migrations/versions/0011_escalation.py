"""escalation state on alerts: steps paged, reminders sent, the next reminder

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch_op:
        batch_op.add_column(
            sa.Column("pages_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_reminder_at", monitor.store.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch_op:
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("pages_sent")
