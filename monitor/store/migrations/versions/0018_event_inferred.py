"""tracking_event.inferred: whether an event's status came from the carrier's own code or was
read from its status name or scan text (docs/statuses.md "Events without a code"); events stored
before are marked not inferred, as nothing recorded how they were classified

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracking_event") as batch_op:
        batch_op.add_column(
            sa.Column("inferred", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("tracking_event") as batch_op:
        batch_op.drop_column("inferred")
