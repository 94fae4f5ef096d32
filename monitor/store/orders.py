"""Reading one order with its parcels and their events
(docs/orders-and-parcels.md "The model"): what `GET /api/v1/shipments/{order_id}` returns and the
order page shows.

An order id is unique within its platform only. Asked for an id alone, the store answers with
the one order that has it, or says which platforms share it, so that the caller can ask again
with the platform rather than get the wrong buyer's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from monitor.store.tables import ALERTS, ORDER_PARCELS, ORDERS, SHIPMENTS, TRACKING_EVENTS

ORD, S, L, E = ORDERS.c, SHIPMENTS.c, ORDER_PARCELS.c, TRACKING_EVENTS.c
# Bookkeeping that says nothing to a reader of the order.
PRIVATE = ("content_hash", "poll_lease_until")


@dataclass(frozen=True)
class Ambiguous:
    order_id: str
    platforms: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"orders of {len(self.platforms)} platforms have the id {self.order_id!r} "
            f"({', '.join(self.platforms)}): add ?platform=<one of them>"
        )


@dataclass
class OrderView:
    order: dict[str, Any]
    parcels: list[dict[str, Any]] = field(default_factory=list)  # each with "events", "orders"

    @property
    def id(self) -> int:
        return int(self.order["id"])

    @property
    def parcel_ids(self) -> list[int]:
        return [int(p["id"]) for p in self.parcels]


def find_order(
    engine: Engine, order_id: str, platform: str | None = None, newest_events_first: bool = False
) -> OrderView | Ambiguous | None:
    with engine.connect() as conn:
        query = select(ORDERS).where(ORD.order_id == order_id)
        if platform:
            query = query.where(ORD.platform == platform)
        rows = conn.execute(query.order_by(ORD.platform)).all()
        if not rows:
            return None
        if len(rows) > 1:
            return Ambiguous(order_id, tuple(str(r.platform) for r in rows))
        view = OrderView(dict(rows[0]._mapping))
        parcels = conn.execute(
            select(SHIPMENTS)
            .select_from(SHIPMENTS.join(ORDER_PARCELS, L.shipment_id == S.id))
            .where(L.sales_order_id == view.id)
            .order_by(S.shipped_at, S.id)
        ).all()
        view.parcels = [dict(p._mapping) for p in parcels]
        if not view.parcels:
            return view
        ids = view.parcel_ids
        order = (E.occurred_at.desc(), E.id.desc()) if newest_events_first else (E.occurred_at,)
        events: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for event in conn.execute(select(TRACKING_EVENTS).where(E.shipment_id.in_(ids))
                                  .order_by(E.shipment_id, *order)):  # fmt: skip
            events[int(event.shipment_id)].append(dict(event._mapping))
        carried: dict[int, list[str]] = {i: [] for i in ids}
        for shipment_id, other in conn.execute(
            select(L.shipment_id, ORD.order_id)
            .select_from(ORDER_PARCELS.join(ORDERS, ORD.id == L.sales_order_id))
            .where(L.shipment_id.in_(ids))
            .order_by(L.shipment_id, ORD.id)
        ):
            carried[int(shipment_id)].append(str(other))
    for parcel in view.parcels:
        parcel["events"] = events[int(parcel["id"])]
        parcel["orders"] = carried[int(parcel["id"])]
    return view


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in row.items()
        if k not in PRIVATE
    }


def order_document(view: OrderView) -> dict[str, Any]:
    """The API's shape: the order's fields, `parcels` (each with its `events` and the
    `orders` it carries), and, for clients of the one-parcel-per-order contract, the first
    parcel's carrier, tracking number, status and events at the top level."""
    document = _jsonable(view.order)
    document["parcels"] = [
        _jsonable({k: v for k, v in p.items() if k != "events"})
        | {"events": [_jsonable(e) for e in p["events"]]}
        for p in view.parcels
    ]
    first = document["parcels"][0] if document["parcels"] else {}
    for name in ("carrier", "tracking_number", "status", "picked_up_at", "delivered_at",
                 "last_event_at", "expected_delivery_at"):  # fmt: skip
        document.setdefault(name, first.get(name))
    document["status"] = first.get("status", "awaiting_shipment")
    document["events"] = first.get("events", [])
    return document


def orders_of_alerts(engine: Engine, alert_ids: list[int]) -> list[tuple[str, str]]:
    """(order id, platform) of every order these alerts concern: an order alert's own, and
    every order a parcel alert's parcel carries; carrier-wide alerts concern none."""
    a = ALERTS.c
    if not alert_ids:
        return []
    own = select(a.sales_order_id.label("pk")).where(
        a.id.in_(alert_ids), a.sales_order_id.is_not(None)
    )
    carried = (
        select(L.sales_order_id.label("pk"))
        .select_from(ORDER_PARCELS.join(ALERTS, a.shipment_id == L.shipment_id))
        .where(a.id.in_(alert_ids))
    )
    wanted = own.union(carried).subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(ORD.order_id, ORD.platform)
            .where(ORD.id.in_(select(wanted.c.pk)))
            .order_by(ORD.id)
        ).all()
    return [(str(r.order_id), str(r.platform)) for r in rows]
