"""silences, and the silence holding an alert's notifications

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("ends_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("released_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silence_ends_at", "silence", ["ends_at"])
    with op.batch_alter_table("alert") as batch_op:
        batch_op.add_column(sa.Column("silenced_by", sa.Integer(), nullable=True))
    op.create_index("ix_alert_silenced_by", "alert", ["silenced_by"],
                    sqlite_where=sa.text("silenced_by IS NOT NULL"),
                    postgresql_where=sa.text("silenced_by IS NOT NULL"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_alert_silenced_by", table_name="alert")
    with op.batch_alter_table("alert") as batch_op:
        batch_op.drop_column("silenced_by")
    op.drop_index("ix_silence_ends_at", table_name="silence")
    op.drop_table("silence")
