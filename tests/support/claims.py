"""A shared PostgreSQL book for the tests of detection claims: in-transit parcels (one order
each) of which the odd ones are stalled, what happened to them (alerts opened, history and
outbox rows), and what other writers do to the claimed rows meanwhile (a lease that runs
out, an order and its parcel removed by hand)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, delete, func, select, update

from monitor.config import Config
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.tables import (
    ALERT_HISTORY,
    ALERTS,
    ORDER_PARCELS,
    ORDERS,
    OUTBOX,
    SHIPMENTS,
    TRACKING_EVENTS,
)
from tests.support.lifecycle import at

NOW = at("2026-11-19 12:00")
A = ALERTS.c


def book(engine: Engine, config: Config, first: int, count: int) -> None:
    """Parcels `first` to `first + count - 1`: the odd ones last scanned two days ago
    (stalled), the even ones an hour ago."""
    rows = [RawRow(i + 1, parcel_row(first + i)) for i in range(count)]
    report = ingest_rows(engine, config, rows, NOW)
    assert not report.rejected, report.rejected[:3]


def parcel_row(i: int) -> dict[str, str]:
    return {
        "order_id": f"TB{i}", "platform": "taobao", "warehouse": "hz1", "province": "江苏",
        "paid_at": "2026-11-16 09:00", "carrier": "zto", "tracking_number": f"73{i:05d}",
        "shipped_at": "2026-11-16 12:00", "picked_up_at": "2026-11-16 15:00",
        "status": "in_transit",
        "last_event_at": "2026-11-17 06:00" if i % 2 else "2026-11-19 11:00",
    }  # fmt: skip


def parcel_id(engine: Engine, i: int) -> int:
    with engine.connect() as conn:
        number = parcel_row(i)["tracking_number"]
        return int(conn.execute(select(SHIPMENTS.c.id).where(
            SHIPMENTS.c.tracking_number == number)).scalar_one())  # fmt: skip


def order_id(engine: Engine, i: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(ORDERS.c.id).where(
            ORDERS.c.order_id == f"TB{i}")).scalar_one())  # fmt: skip


def remove_order_and_parcel(engine: Engine, i: int) -> tuple[int, int]:
    """What an operator's clean-up does to a test order that never had an alert: its parcel,
    the parcel's scans and the link go, and the order with them (its own connection and
    transaction). Returns the (order, parcel) row ids."""
    order, parcel = order_id(engine, i), parcel_id(engine, i)
    with engine.begin() as conn:
        conn.execute(delete(ORDER_PARCELS).where(ORDER_PARCELS.c.shipment_id == parcel))
        conn.execute(delete(TRACKING_EVENTS).where(TRACKING_EVENTS.c.shipment_id == parcel))
        conn.execute(delete(SHIPMENTS).where(SHIPMENTS.c.id == parcel))
        conn.execute(delete(ORDERS).where(ORDERS.c.id == order))
    return order, parcel


def expire_leases(engine: Engine, owner: str | None = None) -> None:
    """The leases of `owner` (or of every holder) run out, on the database's clock."""
    with engine.begin() as conn:
        for table in (SHIPMENTS, ORDERS):
            held = table.c.detect_owner.is_not(None) if owner is None else (
                table.c.detect_owner == owner)  # fmt: skip
            conn.execute(update(table).where(held).values(
                detect_lease_until=func.clock_timestamp() - timedelta(seconds=1)))  # fmt: skip


def still_claimed(engine: Engine) -> int:
    """Parcels and orders some claim holds."""
    held = [select(func.count()).where(t.c.detect_owner.is_not(None)) for t in (SHIPMENTS, ORDERS)]
    with engine.connect() as conn:
        return sum(int(conn.execute(query).scalar_one()) for query in held)


def open_per_fingerprint(engine: Engine) -> dict[str, int]:
    query = select(A.fingerprint, func.count()).where(A.state != "resolved").group_by(A.fingerprint)
    with engine.connect() as conn:
        return {str(f): int(n) for f, n in conn.execute(query)}


def opened_per_fingerprint(engine: Engine) -> dict[str, int]:
    """How many `opened` history rows each fingerprint has."""
    query = (
        select(A.fingerprint, func.count())
        .select_from(ALERT_HISTORY.join(ALERTS, A.id == ALERT_HISTORY.c.alert_id))
        .where(ALERT_HISTORY.c.action == "opened")
        .group_by(A.fingerprint)
    )
    with engine.connect() as conn:
        return {str(f): int(n) for f, n in conn.execute(query)}


def announced_per_alert(engine: Engine) -> dict[int, int]:
    """How many `opened` outbox rows each alert has."""
    query = (
        select(OUTBOX.c.alert_id, func.count())
        .where(OUTBOX.c.event == "opened")
        .group_by(OUTBOX.c.alert_id)
    )
    with engine.connect() as conn:
        return {int(a): int(n) for a, n in conn.execute(query)}


def alert_ids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return {int(i) for (i,) in conn.execute(select(A.id))}
