"""Orders and parcels: `sales_order` and `order_parcel` beside `shipment`, which keeps one row per
parcel (docs/orders-and-parcels.md "The model")

Until now one `shipment` row was both an order and its one parcel. This revision:
- copies every order's fields into `sales_order` (its id unique within its platform);
- links each row that is a parcel (it has a tracking number or tracking events) to its order;
- merges rows that share a carrier's tracking number (one buyer's orders shipped together,
  formerly two rows polled twice) into one parcel linked to each order: their events are
  re-keyed onto the surviving row (a scan both rows held is kept once), their alerts move
  with them, and of two open alerts of one kind the older stays (the other resolves as
  superseded, with a history line saying why);
- gives alerts their order (`alert.sales_order_id`); order kinds leave the parcel; every
  fingerprint is re-keyed by order or parcel id (`kind:order:<id>`, `kind:parcel:<id>`), the
  form detection now writes, so open alerts, and manual resolutions that stick, carry over;
- drops the rows of orders that never had a parcel (their order now lives in `sales_order`),
  and the order-only columns `paid_at` and `amount` of the parcel table.

Nothing is lost: every order, parcel, event and alert of the previous schema is found again
(tests/monitor/store/test_migration_orders.py builds a database with the previous schema and
checks it on SQLite and PostgreSQL). On PostgreSQL the revision runs in one transaction
(monitor/store/db.py), so a crash leaves the previous schema.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 00:10:00
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from monitor.store.types import UTCDateTime, to_micros

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen here: the kinds that belong to the order as this revision was written.
ORDER_KINDS = ("unshipped_past_cutoff", "ship_deadline_at_risk", "ship_deadline_breached")

_events = sa.table(
    "tracking_event",
    sa.column("id", sa.Integer),
    sa.column("shipment_id", sa.Integer),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("status", sa.String),
    sa.column("raw_code", sa.String),
    sa.column("raw_text", sa.String),
    sa.column("dedup_key", sa.String),
)
_alerts = sa.table(
    "alert",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("state", sa.String),
    sa.column("severity", sa.String),
    sa.column("shipment_id", sa.Integer),
    sa.column("resolution", sa.String),
    sa.column("resolved_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
_history = sa.table(
    "alert_event",
    sa.column("alert_id", sa.Integer),
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("severity", sa.String),
    sa.column("note", sa.String),
)


def _event_key(shipment_id: int, occurred_at: datetime, status: str, code: str | None,
               text: str) -> str:  # fmt: skip
    """The event key of monitor/ingest/writer.py `event_key` as of this revision."""
    raw = f"{shipment_id}|{to_micros(occurred_at)}|{status}|{code or ''}|{text}"
    return hashlib.sha1(raw.encode()).hexdigest()


def _create_tables() -> None:
    op.create_table(
        "sales_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("shop", sa.String(), nullable=True),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("province", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("paid_at", UTCDateTime(), nullable=False),
        sa.Column("ship_deadline_at", UTCDateTime(), nullable=True),
        sa.Column("shipped_at", UTCDateTime(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_sales_order_order_id", "sales_order", ["order_id"])
    op.create_index("uq_sales_order_platform_order_id", "sales_order", ["platform", "order_id"],
                    unique=True)  # fmt: skip
    op.create_index("ix_sales_order_unshipped", "sales_order", ["warehouse", "paid_at"],
                    sqlite_where=sa.text("shipped_at IS NULL"),
                    postgresql_where=sa.text("shipped_at IS NULL"))  # fmt: skip
    op.create_table(
        "order_parcel",
        sa.Column(
            "sales_order_id", sa.Integer(), sa.ForeignKey("sales_order.id"), primary_key=True
        ),
        sa.Column("shipment_id", sa.Integer(), sa.ForeignKey("shipment.id"), primary_key=True),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_order_parcel_shipment_id", "order_parcel", ["shipment_id"])


def _merge_shared_tracking_numbers(conn: sa.Connection, now: datetime) -> None:
    groups = conn.execute(sa.text(
        "SELECT tracking_number, carrier FROM shipment WHERE tracking_number IS NOT NULL "
        "GROUP BY tracking_number, carrier HAVING count(*) > 1"
    )).all()  # fmt: skip
    for number, carrier in groups:
        ids = (
            conn.execute(
                sa.text(
                    "SELECT id FROM shipment WHERE tracking_number = :n AND "
                    "(carrier = :c OR (carrier IS NULL AND :c IS NULL)) "
                    "ORDER BY (last_event_at IS NULL), last_event_at DESC, id"
                ),
                {"n": number, "c": carrier},
            )
            .scalars()
            .all()
        )
        survivor, losers = ids[0], ids[1:]
        known = set(conn.execute(
            sa.select(_events.c.dedup_key).where(_events.c.shipment_id == survivor)
        ).scalars())  # fmt: skip
        for loser in losers:
            conn.execute(sa.text("UPDATE order_parcel SET shipment_id = :s WHERE shipment_id = :l"),
                         {"s": survivor, "l": loser})  # fmt: skip
            for event in conn.execute(
                sa.select(_events).where(_events.c.shipment_id == loser).order_by(_events.c.id)
            ).all():
                key = _event_key(survivor, event.occurred_at, event.status, event.raw_code,
                                 event.raw_text)  # fmt: skip
                if key in known:
                    conn.execute(sa.delete(_events).where(_events.c.id == event.id))
                    continue
                known.add(key)
                conn.execute(sa.update(_events).where(_events.c.id == event.id)
                             .values(shipment_id=survivor, dedup_key=key))  # fmt: skip
            conn.execute(sa.update(_alerts).where(_alerts.c.shipment_id == loser)
                         .values(shipment_id=survivor))  # fmt: skip
            conn.execute(sa.text("DELETE FROM shipment WHERE id = :l"), {"l": loser})
    # Two open alerts of one kind on what is now one parcel: the older one stays.
    seen: set[tuple[str, int]] = set()
    for alert in conn.execute(
        sa.select(_alerts.c.id, _alerts.c.kind, _alerts.c.shipment_id, _alerts.c.severity)
        .where(_alerts.c.state != "resolved", _alerts.c.shipment_id.is_not(None))
        .order_by(_alerts.c.id)
    ).all():
        if (alert.kind, alert.shipment_id) not in seen:
            seen.add((alert.kind, alert.shipment_id))
            continue
        conn.execute(sa.update(_alerts).where(_alerts.c.id == alert.id).values(
            state="resolved", resolution="superseded", resolved_at=now, updated_at=now))  # fmt: skip
        conn.execute(sa.insert(_history).values(
            alert_id=alert.id, at=now, actor="system", action="resolved", from_state=None,
            to_state="resolved", severity=alert.severity,
            note="superseded: its parcel was merged with another order's (migration 0014)"))  # fmt: skip


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    _create_tables()
    conn.execute(sa.text(
        "INSERT INTO sales_order (platform, order_id, shop, warehouse, province, city, address, "
        "phone, amount, paid_at, shipped_at, content_hash, created_at, updated_at) "
        "SELECT platform, order_id, shop, warehouse, province, city, address, phone, amount, "
        "paid_at, shipped_at, '', created_at, updated_at FROM shipment ORDER BY id"
    ))  # fmt: skip
    conn.execute(sa.text(
        "INSERT INTO order_parcel (sales_order_id, shipment_id, linked_at) "
        "SELECT o.id, s.id, s.created_at FROM shipment s "
        "JOIN sales_order o ON o.platform = s.platform AND o.order_id = s.order_id "
        "WHERE s.tracking_number IS NOT NULL "
        "OR EXISTS (SELECT 1 FROM tracking_event e WHERE e.shipment_id = s.id)"
    ))  # fmt: skip
    with op.batch_alter_table("alert") as batch_op:
        batch_op.add_column(sa.Column("sales_order_id", sa.Integer(), nullable=True))
    op.create_index("ix_alert_sales_order_id", "alert", ["sales_order_id"])
    conn.execute(sa.text(
        "UPDATE alert SET sales_order_id = (SELECT o.id FROM shipment s "
        "JOIN sales_order o ON o.platform = s.platform AND o.order_id = s.order_id "
        "WHERE s.id = alert.shipment_id) WHERE shipment_id IS NOT NULL"
    ))  # fmt: skip
    kinds = ", ".join(f"'{k}'" for k in ORDER_KINDS)
    conn.execute(sa.text(f"UPDATE alert SET shipment_id = NULL WHERE kind IN ({kinds})"))
    _merge_shared_tracking_numbers(conn, now)
    # A parcel alert on a row that was never a parcel keeps its order; detection resolves it.
    conn.execute(sa.text(
        "UPDATE alert SET shipment_id = NULL WHERE shipment_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM order_parcel p WHERE p.shipment_id = alert.shipment_id)"
    ))  # fmt: skip
    conn.execute(sa.text(
        f"UPDATE alert SET fingerprint = kind || ':order:' || CAST(sales_order_id AS VARCHAR) "
        f"WHERE kind IN ({kinds}) AND sales_order_id IS NOT NULL"
    ))  # fmt: skip
    conn.execute(sa.text(
        "UPDATE alert SET fingerprint = kind || ':parcel:' || CAST(shipment_id AS VARCHAR) "
        "WHERE shipment_id IS NOT NULL"
    ))  # fmt: skip
    conn.execute(sa.text(
        "DELETE FROM shipment WHERE NOT EXISTS "
        "(SELECT 1 FROM order_parcel p WHERE p.shipment_id = shipment.id)"
    ))  # fmt: skip
    op.drop_index("ix_shipment_order_id", table_name="shipment")
    op.create_index("ix_shipment_order_id", "shipment", ["order_id"])
    with op.batch_alter_table("shipment") as batch_op:
        batch_op.add_column(
            sa.Column("order_count", sa.Integer(), nullable=False, server_default="1")
        )
    conn.execute(sa.text(
        "UPDATE shipment SET "
        "order_count = (SELECT count(*) FROM order_parcel p WHERE p.shipment_id = shipment.id), "
        "order_id = (SELECT o.order_id FROM order_parcel p JOIN sales_order o "
        "ON o.id = p.sales_order_id WHERE p.shipment_id = shipment.id ORDER BY o.id LIMIT 1)"
    ))  # fmt: skip
    # Plain ALTER TABLE on both backends (SQLite >= 3.35): neither column is indexed, and a
    # batch copy of the parcel table would have to drop a table others reference.
    for column in ("paid_at", "amount"):
        op.execute(f"ALTER TABLE shipment DROP COLUMN {column}")
    op.create_index("uq_shipment_tracking_carrier", "shipment", ["tracking_number", "carrier"],
                    unique=True)  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError(
        "0014 splits orders from parcels; one row per order cannot hold a split or a merged "
        "shipment. Restore the backup taken before the upgrade instead."
    )
