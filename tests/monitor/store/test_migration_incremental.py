"""Migration 0019 (incremental detection) on a store written by the previous schema, with data
in it, on SQLite and PostgreSQL: every order and parcel is found again, all of them due, the
triggers mark what a writer changes and nothing else, and the first incremental tick opens
what the full tick opens (docs/architecture.md "Incremental detection")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, text

from monitor.daemon.incremental import run_incremental_tick
from monitor.detection import detect
from monitor.store.db import upgrade
from monitor.store.tables import ALERTS, DETECT_DIRTY, ORDERS, SHIPMENTS
from monitor.store.types import to_micros
from tests.support.config import make_config
from tests.support.migrations import store_fixture

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
CONFIG = make_config()


old_store = store_fixture("0018")  # before incremental detection


def _fill(engine: Engine) -> None:
    """Two orders as the previous schema held them: one unshipped past its promise, one
    shipped in a parcel stalled for days."""
    sqlite = engine.dialect.name == "sqlite"

    def at(hours: float) -> object:
        moment = T0 + timedelta(hours=hours)
        return to_micros(moment) if sqlite else moment

    with engine.begin() as conn:
        for oid, order_id, shipped in ((1, "TB1", None), (2, "TB2", at(1))):
            conn.execute(
                text(
                    "INSERT INTO sales_order (id, platform, order_id, shop, warehouse, province, "
                    "amount, paid_at, shipped_at, content_hash, created_at, updated_at) VALUES "
                    "(:id, 'taobao', :oid, '店', 'hz1', '江苏', 88.5, :paid, :shipped, 'h', "
                    ":paid, :paid)"
                ),
                {"id": oid, "oid": order_id, "paid": at(0), "shipped": shipped},
            )
        conn.execute(
            text(
                "INSERT INTO shipment (id, order_id, order_count, platform, shop, warehouse, "
                "carrier, tracking_number, province, shipped_at, picked_up_at, last_event_at, "
                "status, content_hash, poll_failures, created_at, updated_at) VALUES "
                "(1, 'TB2', 1, 'taobao', '店', 'hz1', 'zto', '7100000002', '江苏', :shipped, "
                ":picked, :last, 'in_transit', 'h', 0, :shipped, :shipped)"
            ),
            {"shipped": at(1), "picked": at(3), "last": at(4)},
        )
        conn.execute(
            text(
                "INSERT INTO order_parcel (sales_order_id, shipment_id, linked_at) "
                "VALUES (2, 1, :at)"
            ),
            {"at": at(1)},
        )


def _marks(engine: Engine) -> list[tuple[object, object]]:
    with engine.connect() as conn:
        query = select(DETECT_DIRTY.c.shipment_id, DETECT_DIRTY.c.sales_order_id)
        return [tuple(r) for r in conn.execute(query.order_by(DETECT_DIRTY.c.id))]


def test_upgrade_keeps_every_row_and_makes_it_due(old_store: Engine) -> None:
    _fill(old_store)
    upgrade(old_store)
    with old_store.connect() as conn:
        orders = conn.execute(
            select(ORDERS.c.order_id, ORDERS.c.amount, ORDERS.c.due_at).order_by(ORDERS.c.id)
        ).all()
        parcels = conn.execute(
            select(SHIPMENTS.c.tracking_number, SHIPMENTS.c.last_event_at, SHIPMENTS.c.due_at)
        ).all()
    assert [(o[0], o[1], o[2]) for o in orders] == [("TB1", 88.5, None), ("TB2", 88.5, None)]
    assert parcels == [("7100000002", T0 + timedelta(hours=4), None)]
    assert _marks(old_store) == []

    # A writer's change of a rule column marks the row; writing due_at marks nothing.
    with old_store.begin() as conn:
        conn.execute(SHIPMENTS.update().values(status="out_for_delivery"))
        conn.execute(SHIPMENTS.update().values(due_at=T0))
        conn.execute(ORDERS.update().where(ORDERS.c.id == 1).values(shop="店"))  # unchanged
        conn.execute(ORDERS.update().where(ORDERS.c.id == 1).values(province="浙江"))
    assert _marks(old_store) == [(1, None), (None, 1)]

    # The first incremental tick judges them all and leaves every row with a due moment.
    now = T0 + timedelta(days=4)
    expected = sorted(detect(old_store, CONFIG, now)["kind"])
    assert {"stalled", "unshipped_past_cutoff"} <= set(expected)
    result = run_incremental_tick(old_store, CONFIG, now)
    assert result.parcels == 1 and result.orders == 2
    with old_store.connect() as conn:
        kinds = sorted(conn.execute(select(ALERTS.c.kind)).scalars())
        due = conn.execute(select(func.count()).where(SHIPMENTS.c.due_at.is_(None))).scalar()
    assert kinds == expected
    assert due == 0
    assert _marks(old_store) == []
