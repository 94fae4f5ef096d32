"""Rows written straight into the store's tables, for the store's own tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from monitor.store.tables import ALERTS, ORDER_PARCELS, ORDERS, SHIPMENTS

__all__ = ["ALERTS", "NOW", "ORDERS", "SHIPMENTS", "add_order", "add_shipment"]

NOW = datetime(2026, 11, 24, 2, 30, 15, 123456, tzinfo=UTC)
_ORDER_ONLY = {"paid_at", "amount", "ship_deadline_at"}
_PARCEL_ONLY = {c.name for c in SHIPMENTS.columns} - {c.name for c in ORDERS.columns} - {"id"}


def add_order(engine: Engine, order_id: str, **values: object) -> int:
    """An order without a parcel (not yet shipped, unless `shipped_at` says so)."""
    row = {
        "order_id": order_id,
        "platform": "other",
        "warehouse": "hz1",
        "paid_at": NOW,
        "content_hash": "",
        "created_at": NOW,
        "updated_at": NOW,
    } | values
    with engine.begin() as conn:
        return int(conn.execute(insert(ORDERS).returning(ORDERS.c.id), row).scalar_one())


def add_shipment(engine: Engine, order_id: str, **values: object) -> None:
    """An order, and, when any parcel field is given, its one parcel linked to it: the shape
    of one ERP row. Shared fields (warehouse, province, shipped_at ...) go to both."""
    order_values = {k: v for k, v in values.items() if k not in _PARCEL_ONLY}
    if "shipped_at" not in order_values and values.get("tracking_number"):
        order_values["shipped_at"] = values.get("picked_up_at") or NOW
    order_pk = add_order(engine, order_id, **order_values)
    parcel = {k: v for k, v in values.items() if k not in _ORDER_ONLY}
    if not set(parcel) & _PARCEL_ONLY:
        return
    row = {
        "order_id": order_id,
        "order_count": 1,
        "warehouse": "hz1",
        "created_at": NOW,
        "updated_at": NOW,
    } | parcel
    with engine.begin() as conn:
        shipment_id = conn.execute(insert(SHIPMENTS).returning(SHIPMENTS.c.id), row).scalar_one()
        conn.execute(
            insert(ORDER_PARCELS),
            {"sales_order_id": order_pk, "shipment_id": shipment_id, "linked_at": NOW},
        )
