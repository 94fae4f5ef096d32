"""carrier_answer: push bodies kept as received

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carrier_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("received_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_index("ix_carrier_answer_received_at", "carrier_answer", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_carrier_answer_received_at", table_name="carrier_answer")
    op.drop_table("carrier_answer")
