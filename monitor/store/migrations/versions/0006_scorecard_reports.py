"""scorecard reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 05:02:48.679469
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scorecard_report",
        sa.Column("week", sa.String(), nullable=False),
        sa.Column("generated_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("week"),
    )


def downgrade() -> None:
    op.drop_table("scorecard_report")
