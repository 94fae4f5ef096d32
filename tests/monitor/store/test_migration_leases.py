"""Migration 0020 (detection claims) on a store written by the previous schema, with data in
it, on SQLite and PostgreSQL: every parcel and order is kept, unclaimed; writing a claim
marks nothing for detection; on PostgreSQL the migrated rows can be claimed and released
(docs/architecture.md "Detection across replicas")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, text, update

from monitor.store.db import upgrade
from monitor.store.due import claim_due, release_claim
from monitor.store.tables import DETECT_DIRTY, ORDERS, SHIPMENTS
from monitor.store.types import to_micros
from tests.support.migrations import store_fixture

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

old_store = store_fixture("0019")  # before detection claims


def _fill(engine: Engine) -> None:
    """One shipped order and its parcel, both due, as the previous schema held them."""
    sqlite = engine.dialect.name == "sqlite"

    def at(hours: float) -> object:
        moment = T0 + timedelta(hours=hours)
        return to_micros(moment) if sqlite else moment

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sales_order (id, platform, order_id, shop, warehouse, province, "
                "amount, paid_at, shipped_at, content_hash, created_at, updated_at, due_at) "
                "VALUES (1, 'taobao', 'TB1', '店', 'hz1', '江苏', 88.5, :paid, :shipped, 'h', "
                ":paid, :paid, :due)"
            ),
            {"paid": at(0), "shipped": at(1), "due": at(2)},
        )
        conn.execute(
            text(
                "INSERT INTO shipment (id, order_id, order_count, platform, shop, warehouse, "
                "carrier, tracking_number, province, shipped_at, picked_up_at, last_event_at, "
                "status, content_hash, poll_failures, created_at, updated_at, due_at) VALUES "
                "(1, 'TB1', 1, 'taobao', '店', 'hz1', 'zto', '7100000001', '江苏', :shipped, "
                ":picked, :last, 'in_transit', 'h', 0, :shipped, :shipped, :due)"
            ),
            {"shipped": at(1), "picked": at(3), "last": at(4), "due": at(5)},
        )
        conn.execute(text("DELETE FROM detect_dirty"))


def test_upgrade_keeps_every_row_unclaimed_and_claims_mark_nothing(old_store: Engine) -> None:
    _fill(old_store)
    upgrade(old_store)
    s, o = SHIPMENTS.c, ORDERS.c
    with old_store.connect() as conn:
        parcels = conn.execute(select(s.tracking_number, s.due_at, s.detect_owner)).all()
        orders = conn.execute(select(o.order_id, o.due_at, o.detect_lease_until)).all()
    assert parcels == [("7100000001", T0 + timedelta(hours=5), None)]
    assert orders == [("TB1", T0 + timedelta(hours=2), None)]

    # A claim is bookkeeping, not a change of what the rules read.
    with old_store.begin() as conn:
        conn.execute(update(SHIPMENTS).values(detect_owner="a:1:x", detect_lease_until=T0))
        conn.execute(update(ORDERS).values(detect_owner="a:1:x", detect_lease_until=T0))
        conn.execute(update(SHIPMENTS).values(detect_owner=None, detect_lease_until=None))
        conn.execute(update(ORDERS).values(detect_owner=None, detect_lease_until=None))
    with old_store.connect() as conn:
        assert conn.execute(select(DETECT_DIRTY.c.id)).all() == []

    if old_store.dialect.name == "postgresql":
        claim = claim_due(old_store, T0 + timedelta(days=1), "b:2:y", lease_seconds=60, limit=10)
        assert (claim.shipments, claim.orders) == ([1], [1])
        with old_store.begin() as conn:
            release_claim(conn, claim)
        with old_store.connect() as conn:
            assert conn.execute(select(s.detect_owner)).scalars().all() == [None]
