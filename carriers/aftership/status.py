"""AfterShip tag / subtag → canonical status, as data (docs/tracking-apis.md "AfterShip tags" +
"AfterShip subtags").

Every tag and every documented subtag appears exactly once. The finest code wins: the
subtag when known; an unknown subtag is reported and its `Tag_` prefix used instead, as
AfterShip advises for subtags added after this table (docs/tracking-apis.md "AfterShip subtags").

Judgement calls (kept consistent with the Kuaidi100 and 17TRACK tables):
- Pending* and InfoReceived* → label_created: no carrier scan yet (`no_pickup_scan`).
- InTransit_002 acceptance scan → picked_up; InTransit_005/006 customs cleared/started →
  in_transit with sub_reason "customs" (normal clearance is not an exception).
- OutForDelivery_002 (legacy "available for pickup") → available_for_pickup.
- AttemptFail → delivery_failed; 002 addressee unavailable and 003 business closed →
  unreachable.
- Exception_002 customer moved and 007 incorrect address → delivery_failed/bad_address:
  the parcel could not be delivered there, the same follow-up as a failed delivery.
- Exception_003 customer refused → rejected/refused.
- Exception_004 customs delay and 018 missing documents → exception/customs.
- Exception_005 external-factor delay, 006 held for payment, 016 processing delay and 017
  extreme-weather delay → exception/held: the carrier says the parcel is held or late.
- Exception_008 pickup missed (at the pickup point, not collected) → available_for_pickup,
  as Kuaidi100 205: the parcel still waits and the 72 h locker threshold alerts.
- Exception_009 rejected by the carrier (non-compliant goods) → exception/other: not the
  buyer's refusal, so not `rejected`.
- Exception_010 → returning; 011 → returned; 012 → exception/damaged; 013 → exception/lost.
- Expired → exception/other (as 17TRACK Expired): AfterShip gave up; the `lost` rule decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from carriers.status import ParcelStatus

S = ParcelStatus

# code, status, sub_reason
ROWS: Final[tuple[tuple[str, ParcelStatus, str | None], ...]] = (
    # tags (docs/tracking-apis.md "AfterShip tags")
    ("Pending", S.LABEL_CREATED, None),
    ("InfoReceived", S.LABEL_CREATED, None),
    ("InTransit", S.IN_TRANSIT, None),
    ("OutForDelivery", S.OUT_FOR_DELIVERY, None),
    ("AttemptFail", S.DELIVERY_FAILED, None),
    ("Delivered", S.DELIVERED, None),
    ("AvailableForPickup", S.AVAILABLE_FOR_PICKUP, None),
    ("Exception", S.EXCEPTION, "other"),
    ("Expired", S.EXCEPTION, "other"),
    # subtags (docs/tracking-apis.md "AfterShip subtags")
    ("Pending_001", S.LABEL_CREATED, None),
    ("Pending_002", S.LABEL_CREATED, None),
    ("Pending_003", S.LABEL_CREATED, None),
    ("Pending_004", S.LABEL_CREATED, None),
    ("Pending_005", S.LABEL_CREATED, None),
    ("Pending_006", S.LABEL_CREATED, None),
    ("InfoReceived_001", S.LABEL_CREATED, None),
    ("InTransit_001", S.IN_TRANSIT, None),
    ("InTransit_002", S.PICKED_UP, None),
    ("InTransit_003", S.IN_TRANSIT, None),
    ("InTransit_004", S.IN_TRANSIT, None),
    ("InTransit_005", S.IN_TRANSIT, "customs"),
    ("InTransit_006", S.IN_TRANSIT, "customs"),
    ("InTransit_007", S.IN_TRANSIT, None),
    ("InTransit_008", S.IN_TRANSIT, None),
    ("InTransit_009", S.IN_TRANSIT, None),
    ("OutForDelivery_001", S.OUT_FOR_DELIVERY, None),
    ("OutForDelivery_002", S.AVAILABLE_FOR_PICKUP, None),
    ("OutForDelivery_003", S.OUT_FOR_DELIVERY, None),
    ("OutForDelivery_004", S.OUT_FOR_DELIVERY, None),
    ("AttemptFail_001", S.DELIVERY_FAILED, None),
    ("AttemptFail_002", S.DELIVERY_FAILED, "unreachable"),
    ("AttemptFail_003", S.DELIVERY_FAILED, "unreachable"),
    ("Delivered_001", S.DELIVERED, None),
    ("Delivered_002", S.DELIVERED, None),
    ("Delivered_003", S.DELIVERED, None),
    ("Delivered_004", S.DELIVERED, None),
    ("AvailableForPickup_001", S.AVAILABLE_FOR_PICKUP, None),
    ("Exception_001", S.EXCEPTION, "other"),
    ("Exception_002", S.DELIVERY_FAILED, "bad_address"),
    ("Exception_003", S.REJECTED, "refused"),
    ("Exception_004", S.EXCEPTION, "customs"),
    ("Exception_005", S.EXCEPTION, "held"),
    ("Exception_006", S.EXCEPTION, "held"),
    ("Exception_007", S.DELIVERY_FAILED, "bad_address"),
    ("Exception_008", S.AVAILABLE_FOR_PICKUP, None),
    ("Exception_009", S.EXCEPTION, "other"),
    ("Exception_010", S.RETURNING, None),
    ("Exception_011", S.RETURNED, None),
    ("Exception_012", S.EXCEPTION, "damaged"),
    ("Exception_013", S.EXCEPTION, "lost"),
    ("Exception_016", S.EXCEPTION, "held"),
    ("Exception_017", S.EXCEPTION, "held"),
    ("Exception_018", S.EXCEPTION, "customs"),
    ("Expired_001", S.EXCEPTION, "other"),
)


def _build() -> dict[str, tuple[ParcelStatus, str | None]]:
    table: dict[str, tuple[ParcelStatus, str | None]] = {}
    for code, status, sub_reason in ROWS:
        if code in table:
            raise AssertionError(f"AfterShip code {code} listed twice")
        table[code] = (status, sub_reason)
    return table


STATUS_TABLE: Final[Mapping[str, tuple[ParcelStatus, str | None]]] = _build()


def map_code(code: str) -> tuple[ParcelStatus, str | None, bool]:
    """(status, sub_reason, known) for a tag or subtag; unknown → (UNKNOWN, None, False)."""
    found = STATUS_TABLE.get(code.strip())
    if found is None:
        return ParcelStatus.UNKNOWN, None, False
    return found[0], found[1], True
