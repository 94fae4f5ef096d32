"""Customer-care parcel events: outbox rows announcing that a parcel shipped (the carrier
picked it up) or was delivered, written in the same transaction as the status change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from carriers.status import ParcelStatus

# Statuses before a carrier has the parcel (docs/statuses.md); `unknown` counts as not yet
# scanned. Stored statuses are plain strings.
NOT_YET_SCANNED = frozenset(
    s.value
    for s in (ParcelStatus.AWAITING_SHIPMENT, ParcelStatus.LABEL_CREATED, ParcelStatus.UNKNOWN)
)
DELIVERED = ParcelStatus.DELIVERED.value
PARCEL_FIELDS = (
    "order_id",
    "tracking_number",
    "carrier",
    "warehouse",
    "province",
    "platform",
    "shop",
)


def lifecycle_outbox_rows(
    before: Mapping[str, Any], after: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Outbox rows for a parcel's status change, for customer-care webhooks
    (`events = ["shipped", "delivered"]`): `parcel_shipped` when it leaves the not-yet-scanned
    statuses (the carrier picked it up), `parcel_delivered` when it becomes delivered.

    `before` is the stored shipment row, `after` the new values (status, picked_up_at,
    delivered_at, carrier ...; missing keys keep `before`'s). Insert the rows in the same
    transaction as the change, ignoring duplicates: the idempotency key is one per order and
    event, so a parcel is announced shipped, and delivered, at most once. No phone number or
    address goes out: the receiver looks the buyer up by order id."""
    old = before.get("status")
    new = after.get("status", old)
    if old == new or not before.get("order_id"):
        return []
    merged = {**before, **after}
    events = []
    if old in NOT_YET_SCANNED and new not in NOT_YET_SCANNED:
        events.append(("parcel_shipped", "shipped", merged.get("picked_up_at")))
    if new == DELIVERED:
        events.append(("parcel_delivered", "delivered", merged.get("delivered_at")))
    rows = []
    for event, short, at in events:
        payload = {k: merged.get(k) for k in PARCEL_FIELDS}
        payload.update(
            event=event,
            status=new,
            at=(at if isinstance(at, datetime) else now).isoformat(),
            alert_id=None,
        )
        rows.append(
            {
                "alert_id": None,
                "event": event,
                "payload": payload,
                "idempotency_key": f"parcel-{before['order_id']}-{short}",
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
        )
    return rows
