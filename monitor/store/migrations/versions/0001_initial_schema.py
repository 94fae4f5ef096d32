"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 03:13:22.619303
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "shipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("shop", sa.String(), nullable=True),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("carrier", sa.String(), nullable=True),
        sa.Column("tracking_number", sa.String(), nullable=True),
        sa.Column("province", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("paid_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("shipped_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("picked_up_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_event_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("expected_delivery_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("sub_reason", sa.String(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("created_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipment_carrier"), ["carrier"], unique=False)
        batch_op.create_index(batch_op.f("ix_shipment_order_id"), ["order_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_shipment_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_shipment_tracking_number"), ["tracking_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shipment_warehouse"), ["warehouse"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.Column("tracking_number", sa.String(), nullable=True),
        sa.Column("carrier", sa.String(), nullable=True),
        sa.Column("warehouse", sa.String(), nullable=True),
        sa.Column("province", sa.String(), nullable=True),
        sa.Column("platform", sa.String(), nullable=True),
        sa.Column("since", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("opened_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.String(), nullable=True),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("snoozed_until", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_fingerprint"), ["fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_shipment_id"), ["shipment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_state"), ["state"], unique=False)
        batch_op.create_index(
            "uq_alert_open_fingerprint",
            ["fingerprint"],
            unique=True,
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )

    op.create_table(
        "tracking_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("sub_reason", sa.String(), nullable=True),
        sa.Column("raw_code", sa.String(), nullable=True),
        sa.Column("raw_text", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("received_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("dedup_key", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("tracking_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tracking_event_shipment_id"), ["shipment_id"], unique=False
        )

    op.create_table(
        "alert_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=True),
        sa.Column("severity", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_event_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("created_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("available_at", monitor.store.types.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", monitor.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_available_at"), ["available_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_delivered_at"), ["delivered_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivered_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_available_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_alert_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_event_alert_id"))

    op.drop_table("alert_event")
    with op.batch_alter_table("tracking_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracking_event_shipment_id"))

    op.drop_table("tracking_event")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alert_open_fingerprint",
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )
        batch_op.drop_index(batch_op.f("ix_alert_state"))
        batch_op.drop_index(batch_op.f("ix_alert_shipment_id"))
        batch_op.drop_index(batch_op.f("ix_alert_kind"))
        batch_op.drop_index(batch_op.f("ix_alert_fingerprint"))

    op.drop_table("alert")
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_warehouse"))
        batch_op.drop_index(batch_op.f("ix_shipment_tracking_number"))
        batch_op.drop_index(batch_op.f("ix_shipment_status"))
        batch_op.drop_index(batch_op.f("ix_shipment_order_id"))
        batch_op.drop_index(batch_op.f("ix_shipment_carrier"))

    op.drop_table("shipment")
