"""Incremental detection: each parcel's and order's next due moment, and a changed-set kept by
triggers (docs/architecture.md "Incremental detection")

`shipment.due_at` and `sales_order.due_at` (indexed) hold the earliest moment at which any
rule's outcome for the row can change without new data; NULL means "due now", which is what
every existing row and every new row starts with, so the first tick after the upgrade judges
the whole book once and nothing is lost. A trigger appends the row's id to `detect_dirty`
whenever one of the columns the rules read changes, in the writer's own transaction (import,
API, push, poll alike); the tick judges those rows and deletes exactly the marks it read.
`detect_state` keeps what the due moments were computed against (the config's fingerprint,
the lane figures), so that a change of either marks the rows it may move as due.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Frozen here: the columns the rules read (monitor/rules/base.py PARCEL_COLUMNS and
# ORDER_COLUMNS at this revision, less the row id).
WATCHED: dict[str, tuple[str, ...]] = {
    "shipment": (
        "order_id", "order_count", "platform", "shop", "warehouse", "carrier",
        "tracking_number", "province", "shipped_at", "picked_up_at", "delivered_at",
        "last_event_at", "expected_delivery_at", "status", "sub_reason", "last_polled_at",
        "subscribed_at", "answered_at", "last_hub",
    ),
    "sales_order": (
        "order_id", "platform", "shop", "warehouse", "province", "amount", "paid_at",
        "ship_deadline_at", "shipped_at",
    ),
}  # fmt: skip
KEY = {"shipment": "shipment_id", "sales_order": "sales_order_id"}


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, columns in WATCHED.items():
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
        statements.append(
            f"CREATE TRIGGER {table}_detect_dirty AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} WHEN {changed} "
            f"BEGIN INSERT INTO detect_dirty ({KEY[table]}) VALUES (NEW.id); END"
        )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = []
    for table, columns in WATCHED.items():
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        statements += [
            f"""CREATE FUNCTION parcelwatch_detect_dirty_{table}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO detect_dirty ({KEY[table]}) VALUES (NEW.id);
                RETURN NULL;
            END $$""",
            f"CREATE TRIGGER {table}_detect_dirty AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH ROW WHEN ({changed}) "
            f"EXECUTE FUNCTION parcelwatch_detect_dirty_{table}()",
        ]
    return statements


def upgrade() -> None:
    for table in WATCHED:
        # A nullable column without a default: O(1) on both backends, NULL = due now.
        op.add_column(table, sa.Column("due_at", UTCDateTime(), nullable=True))
        op.create_index(f"ix_{table}_due_at", table, ["due_at"])
    op.create_table(
        "detect_dirty",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("shipment_id", sa.BigInteger(), nullable=True),
        sa.Column("sales_order_id", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "detect_state",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        op.execute(
            f"DROP TRIGGER IF EXISTS {table}_detect_dirty" + (f" ON {table}" if postgres else "")
        )
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS parcelwatch_detect_dirty_{table}()")
    op.drop_table("detect_state")
    op.drop_table("detect_dirty")
    for table in WATCHED:
        op.drop_index(f"ix_{table}_due_at", table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("due_at")
