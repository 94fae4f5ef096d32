"""Migration 0014 (orders apart from parcels) on a store written by the previous schema, with
data in it, on SQLite and PostgreSQL: every order, parcel, event and alert is found again
(docs/orders-and-parcels.md "Upgrading a store from one row per order")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, text

from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.writer import event_key
from monitor.store.db import upgrade
from monitor.store.tables import ALERT_HISTORY, ALERTS, ORDER_PARCELS, ORDERS, SHIPMENTS
from monitor.store.tables import TRACKING_EVENTS as EVENTS
from monitor.store.types import to_micros
from tests.support.config import make_config
from tests.support.migrations import store_fixture

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


old_store = store_fixture("0013")  # one row per order


def _moment(conn_dialect: str, value: datetime) -> object:
    """How the previous schema stored a time: integer microseconds on SQLite."""
    return to_micros(value) if conn_dialect == "sqlite" else value


def _fill(engine: Engine) -> None:
    """Five orders as the previous schema held them: one never shipped (with an order alert),
    one in transit (with a stalled alert and two events), two of one buyer sharing a tracking
    number (the same scan stored under both, and a stalled alert on each), and one with a
    manually resolved no-pickup alert."""
    dialect = engine.dialect.name

    def at(hours: float) -> object:
        return _moment(dialect, T0 + timedelta(hours=hours))

    orders = [
        # id, order_id, tracking, status, shipped (h), last event (h)
        (1, "TB1", None, "awaiting_shipment", None, None),
        (2, "TB2", "7100000001", "in_transit", 1, 30),
        (3, "TB3", "7100000009", "in_transit", 2, 20),
        (4, "TB4", "7100000009", "in_transit", 2, 26),
        (5, "PDD5", "7100000005", "label_created", 3, None),
    ]
    with engine.begin() as conn:
        for sid, oid, number, status, shipped, last in orders:
            conn.execute(
                text(
                    "INSERT INTO shipment (id, order_id, platform, shop, warehouse, carrier, "
                    "tracking_number, province, city, address, amount, paid_at, shipped_at, "
                    "last_event_at, status, content_hash, phone, poll_failures, created_at, "
                    "updated_at) VALUES (:id, :oid, :platform, '店', 'hz1', :carrier, :number, "
                    "'江苏', '南京', '南京市玄武区', 88.5, :paid, :shipped, :last, :status, 'h', "
                    "'13800000000', 0, :paid, :paid)"
                ),
                {
                    "id": sid, "oid": oid, "platform": "pinduoduo" if oid.startswith("PDD")
                    else "taobao", "carrier": "zto" if number else None, "number": number,
                    "paid": at(0), "shipped": at(shipped) if shipped is not None else None,
                    "last": at(last) if last is not None else None, "status": status,
                },
            )  # fmt: skip
        scans = [(2, 10, "到达【南京转运中心】"), (2, 30, "派件中"), (3, 20, "到达【杭州转运中心】"),
                 (4, 20, "到达【杭州转运中心】"), (4, 26, "离开【杭州转运中心】")]  # fmt: skip
        for i, (sid, hours, scan) in enumerate(scans, start=1):
            occurred = T0 + timedelta(hours=hours)
            conn.execute(
                text(
                    "INSERT INTO tracking_event (id, shipment_id, occurred_at, status, raw_text, "
                    "source, received_at, dedup_key) VALUES (:id, :sid, :at, 'in_transit', "
                    ":text, 'push', :at, :key)"
                ),
                {"id": i, "sid": sid, "at": _moment(dialect, occurred), "text": scan,
                 "key": event_key(sid, occurred, "in_transit", None, scan)},
            )  # fmt: skip
        alerts = [
            (1, "unshipped_past_cutoff", "TB1", 1, "open", None),
            (2, "stalled", "TB2", 2, "acknowledged", None),
            (3, "stalled", "TB3", 3, "open", None),
            (4, "stalled", "TB4", 4, "open", None),
            (5, "no_pickup_scan", "PDD5", 5, "resolved", "manual"),
        ]
        for aid, kind, oid, sid, state, resolution in alerts:
            conn.execute(
                text(
                    "INSERT INTO alert (id, fingerprint, kind, severity, state, shipment_id, "
                    "order_id, carrier, warehouse, province, platform, since, opened_at, "
                    "updated_at, resolution, pages_sent, reminders_sent, detail) VALUES "
                    "(:id, :fp, :kind, 'warning', :state, :sid, :oid, 'zto', 'hz1', '江苏', "
                    "'taobao', :at, :at, :at, :resolution, 0, 0, '{}')"
                ),
                {"id": aid, "fp": f"{kind}:{oid}", "kind": kind, "state": state, "sid": sid,
                 "oid": oid, "at": at(40), "resolution": resolution},
            )  # fmt: skip
        if dialect == "postgresql":  # explicit ids leave the sequences behind
            for table in ("shipment", "tracking_event", "alert"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))  # fmt: skip


def test_every_order_parcel_event_and_alert_survives(old_store: Engine) -> None:
    _fill(old_store)
    upgrade(old_store)
    with old_store.connect() as conn:
        orders = {r.order_id: r for r in conn.execute(select(ORDERS))}
        parcels = {r.tracking_number: r for r in conn.execute(select(SHIPMENTS))}
        links = {(r.sales_order_id, r.shipment_id) for r in conn.execute(select(ORDER_PARCELS))}
        events = list(conn.execute(select(EVENTS).order_by(EVENTS.c.occurred_at)))
        alerts = {r.id: r for r in conn.execute(select(ALERTS))}
        notes = list(conn.execute(select(ALERT_HISTORY)))

    assert set(orders) == {"TB1", "TB2", "TB3", "TB4", "PDD5"}
    assert orders["PDD5"].platform == "pinduoduo" and orders["TB2"].amount == 88.5
    assert orders["TB1"].shipped_at is None
    assert orders["TB2"].shipped_at == T0 + timedelta(hours=1)
    # The order that never shipped has no parcel; the two orders of one buyer share one.
    assert set(parcels) == {"7100000001", "7100000009", "7100000005"}
    shared = parcels["7100000009"]
    assert shared.order_count == 2 and shared.order_id == "TB3"
    assert shared.last_event_at == T0 + timedelta(hours=26)  # the row that knew most survived
    assert links == {
        (orders["TB2"].id, parcels["7100000001"].id),
        (orders["TB3"].id, shared.id),
        (orders["TB4"].id, shared.id),
        (orders["PDD5"].id, parcels["7100000005"].id),
    }
    # The scan both rows held is kept once, re-keyed onto the surviving parcel.
    on_shared = [e for e in events if e.shipment_id == shared.id]
    assert [e.raw_text for e in on_shared] == ["到达【杭州转运中心】", "离开【杭州转运中心】"]
    assert all(
        e.dedup_key == event_key(shared.id, e.occurred_at, e.status, e.raw_code, e.raw_text)
        for e in on_shared
    )
    assert len(events) == 4
    # Alerts: the order kind moved to the order; parcel kinds stay on their parcel.
    assert alerts[1].shipment_id is None and alerts[1].sales_order_id == orders["TB1"].id
    assert alerts[1].fingerprint == f"unshipped_past_cutoff:order:{orders['TB1'].id}"
    assert alerts[2].state == "acknowledged"
    assert alerts[2].fingerprint == f"stalled:parcel:{parcels['7100000001'].id}"
    # Two open stalled alerts on what is now one parcel: the older stays, the other says why.
    assert alerts[3].state == "open" and alerts[3].shipment_id == shared.id
    assert alerts[4].state == "resolved" and alerts[4].resolution == "superseded"
    assert any(n.alert_id == 4 and "merged" in (n.note or "") for n in notes)
    # A manual resolution keeps its (re-keyed) fingerprint, so it still sticks.
    assert alerts[5].fingerprint == f"no_pickup_scan:parcel:{parcels['7100000005'].id}"
    assert alerts[5].resolution == "manual"


def test_a_migrated_store_takes_new_imports(old_store: Engine) -> None:
    """After the upgrade the import links a second parcel to a migrated order."""
    _fill(old_store)
    upgrade(old_store)
    config = make_config()
    row = {"order_id": "TB2", "platform": "淘宝", "warehouse": "hz1", "paid_at": "2026-11-20 10:00",
           "carrier": "zto", "tracking_number": "7100000001，7100000002",
           "shipped_at": "2026-11-20 11:00"}  # fmt: skip
    report = ingest_rows(old_store, config, [RawRow(2, row)], T0 + timedelta(days=2))
    assert not report.rejected
    assert report.counts.parcels_inserted == 1 and report.counts.parcels_updated == 1
    with old_store.connect() as conn:
        count = conn.execute(
            select(ORDER_PARCELS.c.shipment_id)
            .join(ORDERS, ORDERS.c.id == ORDER_PARCELS.c.sales_order_id)
            .where(ORDERS.c.order_id == "TB2")
        ).all()
    assert len(count) == 2
