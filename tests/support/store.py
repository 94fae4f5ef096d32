"""Rows written straight into the store's tables, for the store's own tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from monitor.store.models import Alert, Shipment

SHIPMENTS = Shipment.__table__  # type: ignore[attr-defined]
ALERTS = Alert.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 11, 24, 2, 30, 15, 123456, tzinfo=UTC)


def add_shipment(engine: Engine, order_id: str, **values: object) -> None:
    row = {
        "order_id": order_id,
        "warehouse": "hz1",
        "paid_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    } | values
    with engine.begin() as conn:
        conn.execute(insert(SHIPMENTS), row)
